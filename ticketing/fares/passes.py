"""Passes an account holds, when they are valid, and which legs they cover (faregate_passes.txt).

A day pass is valid from its start to the end of that service day (the next cut-off); a month
pass from its start to the cut-off of the same day-of-month one month later (clamped to the
month's last day), i.e. for one month of service days.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ticketing.fares.errors import FareError
from ticketing.fares.feed import FareFeed
from ticketing.gtfs.records import PassCoverage, PassKind
from ticketing.service_day import service_day, service_day_start


@dataclass(frozen=True, slots=True)
class HeldPass:
    """A pass bought by the account: valid for rides departing in [valid_from, valid_until)."""

    fare_product_id: str
    valid_from: datetime
    valid_until: datetime


def pass_first_day(feed: FareFeed, fare_product_id: str, start: datetime) -> date:
    """The first service day of the pass of this product bought (or activated) at `start`:
    with the account and the product, what identifies the pass."""
    first_day, _ = _first_day(feed, fare_product_id, start)
    return first_day


def pass_validity(feed: FareFeed, fare_product_id: str, start: datetime) -> HeldPass:
    """The pass of this product bought (or activated) at `start`, with its validity per its kind."""
    first_day, coverage = _first_day(feed, fare_product_id, start)
    policy = feed.policy_for(coverage[0].network_id)
    last_day = (
        first_day + timedelta(days=1)
        if coverage[0].kind is PassKind.DAY
        else _one_month_later(first_day)
    )
    until = service_day_start(last_day, timezone=policy.timezone, cutoff=policy.cutoff)
    return HeldPass(fare_product_id, start, until)


def _first_day(
    feed: FareFeed, fare_product_id: str, start: datetime
) -> tuple[date, tuple[PassCoverage, ...]]:
    coverage = feed.passes.get(fare_product_id)
    if not coverage:
        raise FareError(f'"{fare_product_id}" is not a pass in faregate_passes.txt')
    policy = feed.policy_for(coverage[0].network_id)
    return service_day(start, timezone=policy.timezone, cutoff=policy.cutoff), coverage


def _one_month_later(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def covering_pass(
    feed: FareFeed,
    passes: tuple[HeldPass, ...],
    route_id: str,
    network_id: str | None,
    category: str | None,
    departure: datetime,
) -> str | None:
    """The first held pass (by product id) that covers a leg departing then, or None."""
    for held in passes:
        if not held.valid_from <= departure < held.valid_until:
            continue
        for coverage in feed.passes.get(held.fare_product_id, ()):
            if (
                (coverage.network_id is None or coverage.network_id == network_id)
                and (coverage.route_id is None or coverage.route_id == route_id)
                and (coverage.rider_category_id is None or coverage.rider_category_id == category)
            ):
                return held.fare_product_id
    return None
