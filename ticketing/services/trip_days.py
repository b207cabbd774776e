"""A rider's trips by service day, as the passenger page shows them: each day's legs (of the
day's latest price), its total, and how far the day's fares went toward each cap of the
networks ridden ("26,000 of 30,000 VND today on Metro 2A"), paged by date, newest day first.

Each leg says what kind of ride it was, so the page can explain it rather than show an empty
stop: a bus ride needs no tap-off (`TAP_ON_ONLY`); a metro exit with no entry (`NO_ENTRY`)
or an entry with no exit (`NO_EXIT`) was charged the longest fare of the line; a journey
longer than the network allows (`OVER_TIME`) too.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from ticketing.db.models import PricedLegRow
from ticketing.fares.feed import FareFeed
from ticketing.gtfs.records import Cap, CapPeriod
from ticketing.money import Money
from ticketing.unit_of_work import UnitOfWorkFactory

DAYS_PER_PAGE = 7
MAX_DAYS_PER_PAGE = 31


class RideShape(enum.StrEnum):
    """How the taps made the ride (see module doc)."""

    COMPLETE = "complete"
    TAP_ON_ONLY = "tap_on_only"
    NO_ENTRY = "no_entry"
    NO_EXIT = "no_exit"
    OVER_TIME = "over_time"


@dataclass(frozen=True, slots=True)
class Trip:
    """One priced leg of the latest price of its service day. `from_stop_id` is None for an
    exit with no entry; `pass_product_id` names the pass that covered it."""

    service_day: date
    started_at: datetime
    ended_at: datetime | None
    route_id: str
    network_id: str | None
    operator_id: str
    from_stop_id: str | None
    to_stop_id: str | None
    fare: Money
    undiscounted: Money
    fare_product_id: str | None
    pass_product_id: str | None
    pass_covered: bool
    capped: bool
    transfer: bool
    shape: RideShape


@dataclass(frozen=True, slots=True)
class CapProgress:
    """What the rider's fares counted toward one cap: `spent` of `cap` in the day's period
    (the day, or the calendar month up to and including the day)."""

    cap_id: str
    network_id: str | None
    network_name: str | None
    period: CapPeriod
    spent: Money
    cap: Money

    @property
    def reached(self) -> bool:
        return self.spent.amount >= self.cap.amount


@dataclass(frozen=True, slots=True)
class TripDay:
    service_day: date
    total: Money
    trips: tuple[Trip, ...]  # in the order ridden
    caps: tuple[CapProgress, ...]


@dataclass(frozen=True, slots=True)
class TripPage:
    """`next_before`: the `before` of the next (older) page; None when there is none."""

    days: tuple[TripDay, ...]
    next_before: date | None


def _shape(row: PricedLegRow) -> RideShape:
    if not row.from_stop_id:
        return RideShape.NO_ENTRY
    if row.to_stop_id is None:
        # A boarding without alighting is a complete bus ride; an entry without exit is not.
        return RideShape.NO_EXIT if row.incomplete else RideShape.TAP_ON_ONLY
    return RideShape.OVER_TIME if row.incomplete else RideShape.COMPLETE


def _trip(row: PricedLegRow) -> Trip:
    return Trip(
        row.service_day,
        row.started_at,
        row.ended_at,
        row.route_id,
        row.network_id,
        row.operator_id,
        row.from_stop_id or None,
        row.to_stop_id,
        Money(row.amount, row.currency),
        Money(row.undiscounted_amount, row.currency),
        row.fare_product_id,
        row.pass_product_id,
        row.pass_covered,
        row.capped,
        row.joined or row.transfer_product_id is not None,
        _shape(row),
    )


def _caps(
    feed: FareFeed, category: str, day: date, trips: Sequence[Trip], month: Sequence[Trip]
) -> tuple[CapProgress, ...]:
    """The caps of the networks ridden on `day`, with the fares counted toward each: the
    day's for a day cap, the month's up to `day` for a month cap."""
    caps: dict[str, Cap] = {}  # a cap of every network is met once, not once per network
    for network_id in sorted({t.network_id for t in trips if t.network_id is not None}):
        for cap in feed.caps_for(network_id, category):
            caps.setdefault(cap.cap_id, cap)
    progress = []
    for cap in caps.values():
        counted = trips if cap.period is CapPeriod.DAY else month
        spent = sum(t.fare.amount for t in counted if cap.network_id in (None, t.network_id))
        progress.append(
            CapProgress(
                cap.cap_id,
                cap.network_id,
                None if cap.network_id is None else feed.gtfs.network_names.get(cap.network_id),
                cap.period,
                Money(spent, cap.amount.currency),
                cap.amount,
            )
        )
    return tuple(progress)


async def trip_days(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    account_id: str,
    *,
    before: date | None = None,
    days: int = DAYS_PER_PAGE,
) -> TripPage:
    """Up to `days` of the account's priced service days before `before` (None: the newest),
    newest first, each with its trips, total and caps. UnknownRecord for an unknown account."""
    async with uows() as uow:
        account = await uow.riders.get_account(account_id)
        found = await uow.pricing.priced_days_of(account_id, before=before, limit=days + 1)
        shown = found[:days]
        rows = (
            await uow.pricing.latest_legs_between(account_id, shown[-1].replace(day=1), shown[0])
            if shown
            else []
        )
        legs = [_trip(row) for row in rows]  # read inside: closing the session expires rows
    by_day: dict[date, list[Trip]] = defaultdict(list)
    for trip in legs:
        by_day[trip.service_day].append(trip)
    page = []
    for day in shown:
        trips = by_day.get(day, [])
        month = [
            t
            for t in legs
            if (t.service_day.year, t.service_day.month) == (day.year, day.month)
            and t.service_day <= day
        ]
        total = Money(sum(t.fare.amount for t in trips), account.currency)
        page.append(
            TripDay(
                day, total, tuple(trips), _caps(feed, account.rider_category, day, trips, month)
            )
        )
    more = len(found) > days
    return TripPage(tuple(page), shown[-1] if more and shown else None)
