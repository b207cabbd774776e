"""The tariff model and the pricing of one stay (pure: no I/O, no clock).

The shape follows the APDS (Alliance for Parking Data Standards) rate tables:

- A tariff has rate tables. Each applies to some vehicle classes, on some days (weekdays
  and/or public holidays) within a time-of-day window (which may wrap midnight). Where no
  table applies, parking is free.
- A table is a list of time blocks counted from the start of the segment it prices: `flat`
  (one amount once the block is reached), `incrementing` (an amount per started unit of
  minutes) or `tiered` (a total by duration band). Each block may have a minimum and a
  maximum.
- An optional period (e.g. a day resetting at 02:00) with an optional maximum per period.

Pricing a stay, in this order:
1. A stay no longer than the free minutes costs 0.
2. The stay is cut at every window edge and every period reset; consecutive pieces under the
   same table occurrence and the same period stay one segment.
3. Each segment is priced by its table's blocks over the segment's own duration (a new
   window or a new period starts counting again).
4. Within a period, segments are capped in order so their sum never passes the period
   maximum.

The walk counts local wall-clock time (all its times share the tariff's zone, so Python
compares and subtracts them as wall times). On days that are neither a public holiday nor
the day after one, labels depend on the weekday alone, so a long stay is a week repeated:
the walk prices one week and counts the times it recurs (`Repeat`); where no cut changes
the label (one whole-day table, no period) it cuts only near holidays. A stay from 1970 to
8999 prices in milliseconds, to the same amounts and segments as the walk over every day
(tests/parking: a property checks it against a minute-by-minute walk).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from parking.errors import QuoteError, UnknownVehicleClass
from qr.timeutil import EARLIEST, LATEST

VEHICLE_CLASSES: tuple[str, ...] = ("car", "motorbike")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY = "holiday"
ALL_DAYS: frozenset[str] = frozenset((*WEEKDAYS, HOLIDAY))
MINUTES_PER_DAY = 24 * 60

BlockKind = Literal["flat", "incrementing", "tiered"]

_MICROSECONDS_PER_MINUTE = 60_000_000
_ONE_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)
# A week is counted rather than listed once it would recur at least this often: shorter
# stays keep the plain walk (and the bench's typical stays its speed).
_MIN_REPEATS = 2
_LONG_STAY = (_MIN_REPEATS + 1) * _WEEK


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    """A tiered block's band: a stay of up to `up_to_minutes` into the block costs `amount`."""

    up_to_minutes: int
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """A time block of a rate table, from `start_minute` to `end_minute` (None: open-ended)."""

    kind: BlockKind
    start_minute: int
    end_minute: int | None
    amount: int = 0
    unit_minutes: int = 0
    tiers: tuple[Tier, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def charge(self, elapsed_us: int) -> int:
        """What this block adds for a segment `elapsed_us` microseconds long."""
        start_us = self.start_minute * _MICROSECONDS_PER_MINUTE
        if elapsed_us <= start_us:
            return 0
        inside = elapsed_us - start_us
        if self.end_minute is not None:
            inside = min(inside, (self.end_minute - self.start_minute) * _MICROSECONDS_PER_MINUTE)
        if self.kind == "flat":
            raw = self.amount
        elif self.kind == "incrementing":
            units = -(-inside // (self.unit_minutes * _MICROSECONDS_PER_MINUTE))
            raw = units * self.amount
        else:
            raw = next(
                tier.amount
                for tier in self.tiers
                if inside <= tier.up_to_minutes * _MICROSECONDS_PER_MINUTE
            )
        if self.minimum is not None:
            raw = max(raw, self.minimum)
        if self.maximum is not None:
            raw = min(raw, self.maximum)
        return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class RateTable:
    """Blocks that price a segment for `vehicles` on `days`, local `start`..`end` minutes.

    `start_minute < end_minute` is a window within one day (0..1440 is the whole day);
    `start_minute > end_minute` wraps midnight and belongs to the day it starts on.
    """

    name: str
    vehicles: frozenset[str]
    days: frozenset[str]
    start_minute: int
    end_minute: int
    blocks: tuple[Block, ...]

    def price(self, elapsed_us: int) -> int:
        return sum(block.charge(elapsed_us) for block in self.blocks)


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """A charging period (a day) that restarts at local `reset_minute`; optional maximum."""

    reset_minute: int
    maximum: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Tariff:
    """A parking tariff: money in integer minor units of `currency`, times in `timezone`."""

    id: str
    name: str
    currency: str
    timezone: ZoneInfo
    rates: tuple[RateTable, ...]
    period: Period | None = None
    holidays: frozenset[date] = frozenset()
    free_minutes: int = 0
    grace_minutes: int = 0
    lost_credential: int = 0

    @property
    def vehicle_classes(self) -> frozenset[str]:
        """The vehicle classes some rate table prices."""
        return frozenset().union(*(rate.vehicles for rate in self.rates))

    def quote(self, vehicle: str, entry: datetime, exit: datetime) -> Quote:
        """Price a stay from `entry` to `exit` (tz-aware) for `vehicle`."""
        return quote(self, vehicle, entry, exit)


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """A piece of a stay priced by one table occurrence within one period."""

    start: datetime
    end: datetime
    rate: str | None
    period: date | None
    amount: int
    capped: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "minutes": round((self.end - self.start) / timedelta(minutes=1), 2),
            "rate": self.rate,
            "period": None if self.period is None else self.period.isoformat(),
            "amount": self.amount,
            "capped": self.capped,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Repeat:
    """`segments[first:first + count]` is one week of the stay that happens `times` times in
    a row: as listed, then each copy a week later (same rates and amounts, dates shifted)."""

    first: int
    count: int
    times: int

    def as_json(self) -> dict[str, Any]:
        return {"first": self.first, "count": self.count, "times": self.times, "every_days": 7}


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """The price of one stay and the segments that make it up: `segments` as listed, where
    a `Repeat` stands for the weeks that are copies of a listed one (`every_segment()`
    writes them out). The amounts of every segment sum to `amount`."""

    tariff_id: str
    vehicle: str
    entry: datetime
    exit: datetime
    amount: int
    currency: str
    segments: tuple[Segment, ...]
    repeats: tuple[Repeat, ...] = ()
    free_minutes_applied: bool = False

    def every_segment(self) -> Iterator[Segment]:
        """Every segment of the stay in order, repeated weeks written out (a stay of years
        has hundreds of thousands)."""
        listed = 0
        for repeat in self.repeats:
            end = repeat.first + repeat.count
            yield from self.segments[listed:end]
            week = self.segments[repeat.first : end]
            for copy in range(1, repeat.times):
                yield from (_shifted(segment, copy * _WEEK) for segment in week)
            listed = end
        yield from self.segments[listed:]

    def as_json(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "currency": self.currency,
            "breakdown": [segment.as_json() for segment in self.segments],
            "repeats": [repeat.as_json() for repeat in self.repeats],
            "tariff": self.tariff_id,
            "vehicle": self.vehicle,
            "entry": self.entry.isoformat(),
            "exit": self.exit.isoformat(),
            "free_minutes_applied": self.free_minutes_applied,
        }


def _shifted(segment: Segment, by: timedelta) -> Segment:
    period = None if segment.period is None else segment.period + by
    return replace(segment, start=segment.start + by, end=segment.end + by, period=period)


def require_vehicle(tariff: Tariff, vehicle: str) -> str:
    """Return `vehicle` if it is a known class the tariff prices; else UnknownVehicleClass."""
    if vehicle not in VEHICLE_CLASSES:
        raise UnknownVehicleClass(
            f"unknown vehicle class {vehicle!r} (expected one of {', '.join(VEHICLE_CLASSES)})"
        )
    if vehicle not in tariff.vehicle_classes:
        raise UnknownVehicleClass(f"tariff {tariff.id} does not price {vehicle}")
    return vehicle


def quote(tariff: Tariff, vehicle: str, entry: datetime, exit: datetime) -> Quote:
    """Price a stay; see the module docstring for the order of the rules."""
    require_vehicle(tariff, vehicle)
    for what, at in (("entry", entry), ("exit", exit)):
        if at.tzinfo is None or at.utcoffset() is None:
            raise QuoteError(f"{what} must be timezone-aware, got {at.isoformat()}")
        # The year alone settles it (cheaply) but at the ends, where the offset counts.
        if not 1970 < at.year < 8999 and not EARLIEST <= at < LATEST:
            raise QuoteError(
                f"{what} {at.isoformat()} is outside {EARLIEST.year}..{LATEST.year - 1}"
            )
    if exit < entry:
        raise QuoteError(f"exit {exit.isoformat()} is before entry {entry.isoformat()}")
    zone = tariff.timezone
    entry, exit = entry.astimezone(zone), exit.astimezone(zone)
    if tariff.free_minutes and exit - entry <= timedelta(minutes=tariff.free_minutes):
        free = Segment(start=entry, end=exit, rate="free minutes", period=None, amount=0)
        return Quote(
            tariff_id=tariff.id,
            vehicle=vehicle,
            entry=entry,
            exit=exit,
            amount=0,
            currency=tariff.currency,
            segments=(free,),
            free_minutes_applied=True,
        )
    segments, repeats = _stay(tariff, vehicle, entry, exit)
    amount = sum(segment.amount for segment in segments)
    for repeat in repeats:
        week = segments[repeat.first : repeat.first + repeat.count]
        amount += (repeat.times - 1) * sum(segment.amount for segment in week)
    return Quote(
        tariff_id=tariff.id,
        vehicle=vehicle,
        entry=entry,
        exit=exit,
        amount=amount,
        currency=tariff.currency,
        segments=tuple(segments),
        repeats=tuple(repeats),
    )


def _stay(
    tariff: Tariff, vehicle: str, entry: datetime, exit: datetime
) -> tuple[list[Segment], list[Repeat]]:
    """The stay's segments, priced and capped, with its repeated weeks counted, not listed."""
    if exit - entry <= _LONG_STAY:
        return _walk(tariff, vehicle, entry, exit), []
    pattern = _weekly_pattern(tariff, vehicle)
    if pattern == frozenset():  # one label all week: only cuts near holidays can matter
        days = _days_near_holidays(tariff, entry, exit)
        return _walk(tariff, vehicle, entry, exit, days), []
    segments: list[Segment] = []
    repeats: list[Repeat] = []
    start = entry
    for anchor, times in _repeated_weeks(tariff, pattern, entry, exit):
        segments += _walk(tariff, vehicle, start, anchor)
        week = _walk(tariff, vehicle, anchor, anchor + _WEEK)
        repeats.append(Repeat(first=len(segments), count=len(week), times=times))
        segments += week
        start = anchor + times * _WEEK
    segments += _walk(tariff, vehicle, start, exit)
    return segments, repeats


def _walk(
    tariff: Tariff,
    vehicle: str,
    entry: datetime,
    exit: datetime,
    days: Iterable[date] | None = None,
) -> list[Segment]:
    return _capped(tariff, _priced_segments(tariff, vehicle, entry, exit, days))


# A week pattern: the (weekday, minute) of every cut at which a new segment starts on days
# that are neither a holiday nor the day after one; None: every period reset starts one.
_Pattern = frozenset[tuple[int, int]] | None
_PLAIN_MONDAY = date(2001, 1, 1)


def _weekly_pattern(tariff: Tariff, vehicle: str) -> _Pattern:
    """Where segments start in a week without holidays (labels depend on fields only)."""
    if tariff.period is not None:
        return None  # the resets: each starts a segment and a period (so capping restarts)
    plain = replace(tariff, holidays=frozenset())
    minutes = sorted(_cut_minutes(tariff))
    starts = set()
    before = _label(plain, vehicle, _at(plain, _PLAIN_MONDAY - _ONE_DAY, minutes[-1]))
    for offset in range(7):
        day = _PLAIN_MONDAY + timedelta(days=offset)
        for minute in minutes:
            label = _label(plain, vehicle, _at(plain, day, minute))
            if label != before:
                starts.add((day.weekday(), minute))
            before = label
    return frozenset(starts)


def _repeated_weeks(
    tariff: Tariff, pattern: _Pattern, entry: datetime, exit: datetime
) -> Iterator[tuple[datetime, int]]:
    """(anchor, times): the week from `anchor` happens `times` times in a row, in order.

    An anchor starts a segment (and a period, if the tariff has periods), so no segment or
    period runs across it; and from the day before it to the end of the last copy, no day
    is a holiday or follows one, so each copy is the same week a week later.
    """
    holidays = sorted(tariff.holidays)
    probe = entry
    while exit - probe > _MIN_REPEATS * _WEEK:
        anchor = _next_anchor(tariff, pattern, probe)
        dirty = _first_dirty_day(holidays, anchor.date() - _ONE_DAY)
        times = (exit - anchor - timedelta(microseconds=1)) // _WEEK  # the last copy ends
        if dirty is not None and dirty <= exit.date():  # before the exit, which stays as is
            times = min(times, ((dirty - anchor.date()).days - 1) // 7)
        if times >= _MIN_REPEATS:
            yield anchor, times
            probe = anchor + times * _WEEK
        elif dirty is None or dirty > exit.date():
            return
        else:
            probe = _at(tariff, dirty + 2 * _ONE_DAY, 0)


def _next_anchor(tariff: Tariff, pattern: _Pattern, after: datetime) -> datetime:
    """The first cut strictly after `after` where the week pattern starts a segment."""
    day = after.date()
    if pattern is None:
        assert tariff.period is not None
        anchor = _at(tariff, day, tariff.period.reset_minute)
        return anchor if anchor > after else anchor + _ONE_DAY
    while True:  # the pattern is not empty: some cut of the next 8 days is in it
        for minute in sorted(m for weekday, m in pattern if weekday == day.weekday()):
            anchor = _at(tariff, day, minute)
            if anchor > after:
                return anchor
        day += _ONE_DAY


def _first_dirty_day(holidays: list[date], day: date) -> date | None:
    """The first day from `day` on that is a holiday or the day after one."""
    index = bisect.bisect_left(holidays, day - _ONE_DAY)
    return None if index == len(holidays) else max(holidays[index], day)


def _days_near_holidays(tariff: Tariff, entry: datetime, exit: datetime) -> list[date]:
    """The days of the stay whose cuts can start a segment when nothing else does: holidays,
    the days after them, and a day either side."""
    first, last = entry.date() - _ONE_DAY, exit.date()
    near = {
        holiday + timedelta(days=offset)
        for holiday in tariff.holidays
        if first - 2 * _ONE_DAY <= holiday <= last + _ONE_DAY
        for offset in (-1, 0, 1, 2)
    }
    return sorted(day for day in near if first <= day <= last)


def _at(tariff: Tariff, day: date, minute: int) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tariff.timezone)


# A segment's identity: which table occurrence (table index, the local day its window
# started) and which period it falls in. Equal labels side by side make one segment.
_Label = tuple[int | None, date | None, date | None]


def _priced_segments(
    tariff: Tariff,
    vehicle: str,
    entry: datetime,
    exit: datetime,
    days: Iterable[date] | None = None,
) -> list[Segment]:
    edges = [entry, *_cuts(tariff, entry, exit, days), exit]
    pieces: list[tuple[datetime, datetime, _Label]] = []
    for start, end in itertools.pairwise(edges):
        label = _label(tariff, vehicle, start)
        if pieces and pieces[-1][2] == label:
            pieces[-1] = (pieces[-1][0], end, label)
        else:
            pieces.append((start, end, label))
    segments = []
    for start, end, (table, _, period) in pieces:
        rate = None if table is None else tariff.rates[table]
        elapsed_us = (end - start) // timedelta(microseconds=1)
        segments.append(
            Segment(
                start=start,
                end=end,
                rate=None if rate is None else rate.name,
                period=period,
                amount=0 if rate is None else rate.price(elapsed_us),
            )
        )
    return segments


def _cuts(
    tariff: Tariff, entry: datetime, exit: datetime, days: Iterable[date] | None = None
) -> list[datetime]:
    """Every window edge and period reset strictly inside the stay (on `days` only, if
    given: in order), in order."""
    times = [time(minute // 60, minute % 60) for minute in sorted(_cut_minutes(tariff))]
    zone = tariff.timezone
    cuts = []
    for day in _every_day(entry.date() - _ONE_DAY, exit.date()) if days is None else days:
        for clock in times:
            at = datetime.combine(day, clock, tzinfo=zone)
            if entry < at < exit:
                cuts.append(at)
    return cuts


def _every_day(first: date, last: date) -> Iterator[date]:
    while first <= last:
        yield first
        first += _ONE_DAY


def _cut_minutes(tariff: Tariff) -> set[int]:
    minutes = {rate.start_minute % MINUTES_PER_DAY for rate in tariff.rates}
    minutes |= {rate.end_minute % MINUTES_PER_DAY for rate in tariff.rates}
    if tariff.period is not None:
        minutes.add(tariff.period.reset_minute)
    return minutes


def _label(tariff: Tariff, vehicle: str, at: datetime) -> _Label:
    day = at.date()
    minute = at.hour * 60 + at.minute
    period = None
    if tariff.period is not None:
        period = day if minute >= tariff.period.reset_minute else day - _ONE_DAY
    for index, rate in enumerate(tariff.rates):
        if vehicle not in rate.vehicles:
            continue
        if rate.start_minute < rate.end_minute:
            if rate.start_minute <= minute < rate.end_minute and _applies(tariff, rate, day):
                # A whole-day table runs on across midnight: the day only decides whether it
                # applies, so its occurrence is not the date.
                whole_day = rate.end_minute - rate.start_minute == MINUTES_PER_DAY
                return index, None if whole_day else day, period
        elif minute >= rate.start_minute and _applies(tariff, rate, day):
            return index, day, period
        elif minute < rate.end_minute and _applies(tariff, rate, day - _ONE_DAY):
            return index, day - _ONE_DAY, period
    return None, None, period


def _applies(tariff: Tariff, rate: RateTable, day: date) -> bool:
    if day in tariff.holidays:
        return HOLIDAY in rate.days
    return WEEKDAYS[day.weekday()] in rate.days


def _capped(tariff: Tariff, segments: list[Segment]) -> list[Segment]:
    """Cap each period's segments, in order, at the period maximum."""
    if tariff.period is None or tariff.period.maximum is None:
        return segments
    maximum = tariff.period.maximum
    spent: dict[date | None, int] = {}
    capped = []
    for segment in segments:
        already = spent.get(segment.period, 0)
        amount = min(segment.amount, maximum - already)
        spent[segment.period] = already + amount
        if amount != segment.amount:
            segment = Segment(
                start=segment.start,
                end=segment.end,
                rate=segment.rate,
                period=segment.period,
                amount=amount,
                capped=True,
            )
        capped.append(segment)
    return capped
