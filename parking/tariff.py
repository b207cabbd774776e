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
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from parking.errors import QuoteError, UnknownVehicleClass

VEHICLE_CLASSES: tuple[str, ...] = ("car", "motorbike")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY = "holiday"
ALL_DAYS: frozenset[str] = frozenset((*WEEKDAYS, HOLIDAY))
MINUTES_PER_DAY = 24 * 60

BlockKind = Literal["flat", "incrementing", "tiered"]

_MICROSECONDS_PER_MINUTE = 60_000_000
_ONE_DAY = timedelta(days=1)


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
class Quote:
    """The price of one stay, with the segments that make it up (amounts sum to `amount`)."""

    tariff_id: str
    vehicle: str
    entry: datetime
    exit: datetime
    amount: int
    currency: str
    segments: tuple[Segment, ...]
    free_minutes_applied: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "currency": self.currency,
            "breakdown": [segment.as_json() for segment in self.segments],
            "tariff": self.tariff_id,
            "vehicle": self.vehicle,
            "entry": self.entry.isoformat(),
            "exit": self.exit.isoformat(),
            "free_minutes_applied": self.free_minutes_applied,
        }


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
    segments = _capped(tariff, _priced_segments(tariff, vehicle, entry, exit))
    return Quote(
        tariff_id=tariff.id,
        vehicle=vehicle,
        entry=entry,
        exit=exit,
        amount=sum(segment.amount for segment in segments),
        currency=tariff.currency,
        segments=tuple(segments),
    )


# A segment's identity: which table occurrence (table index, the local day its window
# started) and which period it falls in. Equal labels side by side make one segment.
_Label = tuple[int | None, date | None, date | None]


def _priced_segments(
    tariff: Tariff, vehicle: str, entry: datetime, exit: datetime
) -> list[Segment]:
    edges = [entry, *_cuts(tariff, entry, exit), exit]
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


def _cuts(tariff: Tariff, entry: datetime, exit: datetime) -> list[datetime]:
    """Every window edge and period reset strictly inside the stay, in order."""
    minutes = {rate.start_minute % MINUTES_PER_DAY for rate in tariff.rates}
    minutes |= {rate.end_minute % MINUTES_PER_DAY for rate in tariff.rates}
    if tariff.period is not None:
        minutes.add(tariff.period.reset_minute)
    cuts = set()
    day = entry.date() - _ONE_DAY
    while day <= exit.date():
        for minute in minutes:
            at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tariff.timezone)
            if entry < at < exit:
                cuts.add(at)
        day += _ONE_DAY
    return sorted(cuts)


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
