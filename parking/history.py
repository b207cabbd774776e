"""A lot's day as its operator reads it: occupancy over the day, entries and exits per hour,
how long the stays that ended lasted, revenue per day, and the barriers opened from afar.

One use case, `lot_day`, serves the operator page's charts and the operator API the same
figures. Occupancy comes from the stored 5-minute buckets (`parking.occupancy_history`),
which barrier uploads add to as they are applied, so an offline barrier's hours fill in once
its journal is up; dwell times from the stays that ended that day; revenue from the buckets'
fees (the whole price of each stay that ended, collected or owed) and the permits sold. The
day is the lot's local day (its tariff's time zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from parking.occupancy_history import (
    Point,
    day_window,
    dwell_bands,
    median,
    occupancy_series,
)
from parking.records import BarrierCommand, LotConfig
from parking.tariff_versions import in_force
from parking.unit_of_work import ParkingUnitOfWorkFactory

REVENUE_DAYS = 14


@dataclass(frozen=True, slots=True, kw_only=True)
class HourFigures:
    """One local hour: vehicles in and out, the most inside at a 5-minute mark in it."""

    hour: int
    entries: int
    exits: int
    peak: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DayRevenue:
    day: date
    fees: int  # the prices of the stays that ended that day
    permits: int  # permits sold that day


@dataclass(frozen=True, slots=True, kw_only=True)
class LotDay:
    lot: LotConfig
    day: date
    zone: ZoneInfo
    start: datetime
    end: datetime
    as_of: datetime
    occupancy: tuple[Point, ...]  # every 5 minutes from 00:00 to the end of the day or now
    hours: tuple[HourFigures, ...]  # 24 (23 or 25 on a DST change)
    dwell: tuple[tuple[str, int], ...]  # stays that ended that day, by band
    median_dwell_minutes: float | None
    stays_ended: int
    revenue: tuple[DayRevenue, ...]  # the REVENUE_DAYS days up to `day`
    remote_opens: tuple[BarrierCommand, ...]  # asked that day

    @property
    def peak(self) -> Point | None:
        return max(self.occupancy, key=lambda p: p.occupied, default=None)


async def lot_day(uows: ParkingUnitOfWorkFactory, lot_id: str, day: date) -> LotDay:
    """The lot's `day` (UnknownLot if there is no such lot)."""
    async with uows() as uow:
        lot = await uow.parking.get_lot(lot_id)
        now = uow.clock()
        zone = in_force(await uow.parking.tariff_versions(lot_id), now).tariff.timezone
        start, end = day_window(day, zone)
        first, _ = day_window(day - timedelta(days=REVENUE_DAYS - 1), zone)
        before = await uow.parking.occupied_before(lot_id, start)
        buckets = await uow.parking.occupancy(lot_id, first, end)
        ended = await uow.parking.sessions_ended(lot_id, start, end)
        permits = await uow.parking.permits(lot_id)
        commands = await uow.parking.commands(lot_id=lot_id, since=start, until=end)
    todays = [b for b in buckets if b.start >= start]
    points = occupancy_series(before, todays, start, min(end, now))
    hours = []
    for offset in range(int((end - start) / timedelta(hours=1))):
        hour_start = start + timedelta(hours=offset)
        hour_end = hour_start + timedelta(hours=1)
        inside = [b for b in todays if hour_start <= b.start < hour_end]
        marks = [p.occupied for p in points if hour_start <= p.at <= hour_end]
        hours.append(
            HourFigures(
                hour=hour_start.astimezone(zone).hour,
                entries=sum(b.entries for b in inside),
                exits=sum(b.exits for b in inside),
                peak=max(marks, default=0),
            )
        )
    minutes = [
        (s.exit_at - s.entry_at) / timedelta(minutes=1) for s in ended if s.exit_at is not None
    ]
    revenue = []
    for back in range(REVENUE_DAYS - 1, -1, -1):
        which = day - timedelta(days=back)
        open_, close = day_window(which, zone)
        revenue.append(
            DayRevenue(
                day=which,
                fees=sum(b.fees for b in buckets if open_ <= b.start < close),
                permits=sum(p.price for p in permits if open_ <= p.sold_at < close),
            )
        )
    return LotDay(
        lot=lot,
        day=day,
        zone=zone,
        start=start,
        end=end,
        as_of=now,
        occupancy=tuple(points),
        hours=tuple(hours),
        dwell=tuple(dwell_bands(minutes)),
        median_dwell_minutes=median(minutes),
        stays_ended=len(ended),
        revenue=tuple(revenue),
        remote_opens=tuple(commands),
    )
