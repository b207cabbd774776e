"""A lot's day as chart geometry for the lot page's inline SVG (no chart library, no script),
from `parking.history.LotDay`: occupancy over the day as an area, entries and exits per hour
as paired columns, dwell bands and revenue per day as bars. Every chart's numbers are also in
a table on the page (as the settlement report's are). The bars' labels are in the reader's
language (faregate.i18n): the dwell bands from their bounds, the days as that language writes
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

from faregate import i18n
from faregate.i18n import N_
from parking.history import LotDay
from parking.occupancy_history import BUCKET, DWELL_BANDS
from ticketing.money import Money

HEIGHT = 100  # the SVG's units up: a full lot reaches the top


@dataclass(frozen=True, slots=True, kw_only=True)
class Area:
    """Vehicles inside every 5 minutes: `path` is the area's SVG path in a viewBox `width` x
    HEIGHT (one unit a 5-minute mark, the whole day wide even when it has not ended)."""

    width: int
    path: str
    reserved_y: float  # where the reserved spaces start (free to the public below it)
    peak: int
    peak_at: str  # local HH:MM
    rows: tuple[tuple[str, int], ...]  # (local HH:MM, vehicles) every 5 minutes


@dataclass(frozen=True, slots=True, kw_only=True)
class HourColumns:
    hour: int
    entries: int
    exits: int
    peak: int
    entries_y: float  # the columns' tops, in a viewBox 240 x HEIGHT (10 units an hour)
    exits_y: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CountBar:
    label: str
    value: int
    share: float  # of the largest, 0..1


@dataclass(frozen=True, slots=True, kw_only=True)
class RevenueBar:
    day: date
    label: str
    fees: Money
    permits: Money
    total: Money
    share: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DayCharts:
    occupancy: Area
    hours: tuple[HourColumns, ...]
    most_per_hour: int
    entries: int
    exits: int
    dwell: tuple[CountBar, ...]
    revenue: tuple[RevenueBar, ...]
    day_revenue: RevenueBar | None


def _span(minutes: int, language: str) -> str:
    words = i18n.translations(language).gettext
    if minutes % 60:
        return words(N_("{count} min")).format(count=minutes)
    return words(N_("{count} h")).format(count=minutes // 60)


def dwell_labels(language: str) -> tuple[str, ...]:
    """The names of parking's dwell bands (`DWELL_BANDS`, by their upper bounds) in
    `language`: `under 15 min`, `15 min–30 min`, … `24 h or more`."""
    words = i18n.translations(language).gettext
    labels, lower = [], None
    for upper, _ in DWELL_BANDS:
        if lower is None and upper is not None:
            labels.append(words(N_("under {span}")).format(span=_span(upper, language)))
        elif upper is None and lower is not None:
            labels.append(words(N_("{span} or more")).format(span=_span(lower, language)))
        elif upper is not None and lower is not None:
            labels.append(f"{_span(lower, language)}–{_span(upper, language)}")
        lower = upper
    return tuple(labels)


def _y(value: int, top: int) -> float:
    return round(HEIGHT - HEIGHT * min(value, top) / top, 2) if top > 0 else HEIGHT


def day_charts(figures: LotDay, language: str = i18n.ENGLISH) -> DayCharts:
    lot, zone = figures.lot, figures.zone
    width = max(int((figures.end - figures.start) / BUCKET), 1)
    capacity = max(lot.capacity, 1)
    steps = [f"M0,{HEIGHT}"]
    for index, point in enumerate(figures.occupancy):
        y = _y(point.occupied, capacity)
        steps.append(f"L{index},{y} L{index + 1},{y}")
    steps.append(f"L{len(figures.occupancy)},{HEIGHT} Z")
    peak = figures.peak
    area = Area(
        width=width,
        path=" ".join(steps),
        reserved_y=_y(lot.capacity - lot.reserved, capacity),
        peak=0 if peak is None else peak.occupied,
        peak_at="—" if peak is None else f"{peak.at.astimezone(zone):%H:%M}",
        rows=tuple((f"{p.at.astimezone(zone):%H:%M}", p.occupied) for p in figures.occupancy),
    )
    most = max((max(h.entries, h.exits) for h in figures.hours), default=0)
    hours = tuple(
        HourColumns(
            hour=h.hour,
            entries=h.entries,
            exits=h.exits,
            peak=h.peak,
            entries_y=_y(h.entries, most),
            exits_y=_y(h.exits, most),
        )
        for h in figures.hours
    )
    longest = max((count for _, count in figures.dwell), default=0)
    dwell = tuple(
        CountBar(label=label, value=count, share=count / longest if longest else 0.0)
        for label, (_, count) in zip(dwell_labels(language), figures.dwell, strict=True)
    )
    totals = [r.fees + r.permits for r in figures.revenue]
    top = max(totals, default=0)
    revenue = tuple(
        RevenueBar(
            day=r.day,
            label=format_date(r.day, "EEE, d MMM", locale=language),
            fees=Money(r.fees, lot.currency),
            permits=Money(r.permits, lot.currency),
            total=Money(total, lot.currency),
            share=total / top if top > 0 else 0.0,
        )
        for r, total in zip(figures.revenue, totals, strict=True)
    )
    return DayCharts(
        occupancy=area,
        hours=hours,
        most_per_hour=most,
        entries=sum(h.entries for h in hours),
        exits=sum(h.exits for h in hours),
        dwell=dwell,
        revenue=revenue,
        day_revenue=next((r for r in revenue if r.day == figures.day), None),
    )
