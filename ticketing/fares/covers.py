"""Fares v1: the cheapest way to cover a day's legs with fares, as OpenTripPlanner does, with
one rule of our own (the prefix rule).

A fare covers a run of consecutive legs when
- its fare_rules allow every route of the run, with the run's first origin zone, last
  destination zone and (contains_id) exactly the zones the run visits (see matching.py);
- the run has no more transfers (legs - 1) than `transfers` allows (empty: unlimited);
- the last leg departs at most `transfer_duration` seconds after the first (OpenTripPlanner
  checks transfers at boarding). A fare with transfers but no transfer_duration is bounded by
  the network's journey time (faregate_policy.txt max_journey_minutes, 180 by default): a day
  of taps is not one itinerary, and the reference gives no other bound;
- (the prefix rule) the fare is no cheaper than any leading part of the run that one fare
  covers: a ticket bought at the start must be worth the journey so far at every point. A
  leading part no fare covers alone does not stop the run (GTFS Fares v1 prices the run, and a
  fare from zone 3 to zone 4 covers 3 -> 6 -> 4 although no fare covers 3 -> 6). So the cost
  of a run only grows as it grows, and a round trip
  priced from zone 2 back to zone 2 is not cheaper than its outward leg (docs/FARES.md).

The day's charge is the cheapest set of runs covering every leg once, found by dynamic
programming over the legs in departure order: best[j] = min over i < j of best[i] + the
cheapest fare covering legs i..j-1 (a leg no run covers is left unpriced, counted first). This
is the one-dimensional form of OpenTripPlanner's DefaultFareService table (the cheapest cover
of legs i..j, from a single fare or split at k). A run stops growing once no fare could allow
its transfers or span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ticketing.fares.feed import FareFeed
from ticketing.fares.matching import LegFare


@dataclass(frozen=True, slots=True)
class CoverLeg:
    """A complete leg to cover: route, both stops, departure, and whether some fare covers it
    alone (a leg no fare covers alone may still be covered as part of a longer run)."""

    route_id: str
    from_stop_id: str
    to_stop_id: str
    departure: datetime
    priced_alone: bool = True


def cheapest_cover(
    feed: FareFeed, legs: Sequence[CoverLeg]
) -> list[tuple[int, int, LegFare | None]]:
    """The runs (start, end exclusive, fare) of the cheapest cover of `legs`, in order; a leg
    no run can cover is a run of its own with fare None (it stays unpriced).

    Covers are compared by how many legs they leave unpriced, then by amount: leaving a leg
    unpriced is never a way to pay less. Among equal covers the one whose runs start latest wins:
    a fare bought earlier covers as many legs as it can, as a rider holding it would use it.
    """
    matcher = feed.v1_fares
    count = len(legs)
    # Per leg, once: origin and destination zones, zones passed, agency.
    origins = [feed.zone_of(leg.from_stop_id) for leg in legs]
    destinations = [feed.zone_of(leg.to_stop_id) for leg in legs]
    passed = [feed.zones_passed(leg.route_id, leg.from_stop_id, leg.to_stop_id) for leg in legs]
    agency = [feed.agency_of(leg.route_id) for leg in legs]
    # best[j]: (unpriced legs, amount) of the cheapest cover of legs[:j]
    best: list[tuple[int, int] | None] = [(0, 0), *([None] * count)]
    back: list[tuple[int, LegFare | None]] = [(0, None)] * (count + 1)
    for start in range(count):
        before = best[start]
        if before is None:
            continue
        first = legs[start]
        if not first.priced_alone:
            _improve(best, back, start + 1, (before[0] + 1, before[1]), start, None)
        default_limit = feed.max_journey_seconds(first.route_id)
        longest = matcher.longest_run_seconds(default_limit)
        routes: frozenset[str] = frozenset()
        agencies: frozenset[str | None] = frozenset()
        visited: frozenset[str] = frozenset()
        # The prefix rule: the fare of legs start..end-1, the least the next longer run costs.
        floor = 0
        for end in range(start, count):
            leg = legs[end]
            transfers = end - start
            span = (leg.departure - first.departure).total_seconds()
            if transfers and (
                (matcher.max_transfers is not None and transfers > matcher.max_transfers)
                or span > longest
            ):
                break
            routes |= {leg.route_id}
            agencies |= {agency[end]}
            visited |= passed[end]
            fare = matcher.cheapest(
                routes,
                agencies,
                origins[start],
                destinations[end],
                visited,
                transfers,
                span,
                default_limit,
                floor,
            )
            if fare is None:
                # No fare covers legs start..end alone: a longer run still may (a fare from
                # zone 3 to zone 4 covers 3 -> 6 -> 4, though nothing covers 3 -> 6 alone).
                continue
            floor = fare.amount
            _improve(best, back, end + 1, (before[0], before[1] + fare.amount), start, fare)
    runs: list[tuple[int, int, LegFare | None]] = []
    end = count
    while end > 0:
        start, fare = back[end]
        runs.append((start, end, fare))
        end = start
    runs.reverse()
    return runs


def _improve(
    best: list[tuple[int, int] | None],
    back: list[tuple[int, LegFare | None]],
    end: int,
    cost: tuple[int, int],
    start: int,
    fare: LegFare | None,
) -> None:
    known = best[end]
    if known is None or cost <= known:
        best[end] = cost
        back[end] = (start, fare)
