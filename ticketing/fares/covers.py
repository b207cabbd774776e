"""Fares v1: the cheapest way to cover a day's legs with fares, as OpenTripPlanner does.

A fare of fare_attributes.txt covers a run of consecutive legs when
- its fare_rules allow every route of the run, with the run's first origin zone, last
  destination zone and (contains_id) exactly the zones the run visits (see matching.py);
- the run has no more transfers (legs - 1) than `transfers` allows (empty: unlimited);
- the last leg departs at most `transfer_duration` seconds after the first (OpenTripPlanner
  checks transfers at boarding). A fare with transfers but no transfer_duration is bounded by
  the network's journey time (faregate_policy.txt max_journey_minutes, 180 by default): a day
  of taps is not one itinerary, and the reference gives no other bound.

The day's charge is the cheapest set of runs covering every leg once, found by dynamic
programming over the legs in departure order: best[j] = min over i < j of best[i] + the
cheapest fare covering legs i..j-1. This is the one-dimensional form of OpenTripPlanner's
DefaultFareService table (the cheapest cover of legs i..j, from a single fare or split at k);
both give the same total. A run stops growing once no fare could allow its transfers or span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ticketing.fares.feed import FareFeed
from ticketing.fares.matching import LegFare


@dataclass(frozen=True, slots=True)
class CoverLeg:
    """A complete leg to cover: route, both stops and departure."""

    route_id: str
    from_stop_id: str
    to_stop_id: str
    departure: datetime


def cheapest_cover(feed: FareFeed, legs: Sequence[CoverLeg]) -> list[tuple[int, int, LegFare]]:
    """The runs (start, end exclusive, fare) of the cheapest cover of `legs`, in order.

    Ties go to the cover whose last run starts earliest (fewer, longer runs). Empty when some
    leg no fare covers even alone (the caller prices such a leg on its own).
    """
    matcher = feed.v1_fares
    count = len(legs)
    best: list[int | None] = [0, *([None] * count)]
    back: list[tuple[int, LegFare] | None] = [None] * (count + 1)
    zones = [(feed.zone_of(leg.from_stop_id), feed.zone_of(leg.to_stop_id)) for leg in legs]
    for start in range(count):
        before = best[start]
        if before is None:
            continue
        first = legs[start]
        default_limit = feed.max_journey_seconds(first.route_id)
        longest = matcher.longest_run_seconds(default_limit)
        origin = zones[start][0]
        routes: set[str] = set()
        agencies: set[str | None] = set()
        visited: set[str] = set()
        for end in range(start, count):
            leg = legs[end]
            transfers = end - start
            span = (leg.departure - first.departure).total_seconds()
            if transfers and (
                (matcher.max_transfers is not None and transfers > matcher.max_transfers)
                or span > longest
            ):
                break
            routes.add(leg.route_id)
            agencies.add(feed.agency_of(leg.route_id))
            visited.update(z for z in zones[end] if z is not None)
            fare = matcher.cheapest(
                sorted(routes),
                agencies,
                origin,
                zones[end][1],
                frozenset(visited),
                transfers,
                span,
                default_limit,
            )
            if fare is None:
                continue
            cost = before + fare.amount
            known = best[end + 1]
            if known is None or cost < known:
                best[end + 1] = cost
                back[end + 1] = (start, fare)
    runs: list[tuple[int, int, LegFare]] = []
    end = count
    while end > 0:
        step = back[end]
        if step is None:
            return []
        start, fare = step
        runs.append((start, end, fare))
        end = start
    runs.reverse()
    return runs
