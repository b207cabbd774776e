"""Which fare product a single leg needs: Fares v2 fare_leg_rules and Fares v1 fare_rules.

Fares v2 (gtfs.org reference, fare_leg_rules.txt):
- With a `rule_priority` column, an empty network/area/timeframe field does not affect matching,
  and among matching rules only those of the highest priority (empty = 0) count.
- Without it, an empty network or area field matches every value *not listed* in that column
  (so an exact match always wins over the empty "everything else" row); empty timeframes match.
- Rules whose product has no row for the rider's category (or medium) do not apply. When several
  products remain, the rider is charged the cheapest: the engine picks the best fare for them.

Fares v1 (fare_rules.txt): a fare applies to a leg when one of its rule groups matches the route,
origin zone and destination zone, and its `contains_id` zones, if any, are exactly the zones
visited (both stops' zones and, for feeds with contains_id rules, those of the stops the route's
trips call at in between: FareFeed.zones_passed).
A fare with no rules applies everywhere; a fare with an agency_id only to that agency's routes.
The cheapest applicable fare is charged. A run of legs (ticketing.fares.covers) is matched the
same way with the run's routes, first origin zone, last destination zone and every zone visited,
by a fare no cheaper than the run without its last leg (the prefix rule, docs/FARES.md).

A leg with an unknown end (incomplete journey) is priced at the maximum over every possible end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ticketing.gtfs.loader import GtfsFeed
from ticketing.gtfs.records import FareLegRule

# (fare_product_id, rider_category_id, fare_media_id) -> amount in minor units, None if unavailable
AmountOf = Callable[[str, str | None, str | None], int | None]

NO_AREAS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LegFare:
    """The product a leg needs, its amount for the rider, and its leg group for transfers."""

    fare_product_id: str
    amount: int
    leg_group_id: str | None


class LegRuleMatcher:
    """Fares v2 fare_leg_rules.txt, indexed by network."""

    def __init__(self, feed: GtfsFeed, amount_of: AmountOf) -> None:
        self._amount_of = amount_of
        self._priority = feed.has_rule_priority
        # An unknown end may be any area, or none of them.
        self._open_ends = (NO_AREAS, *(frozenset((a,)) for a in sorted(feed.areas)))
        self._by_network: dict[str | None, list[FareLegRule]] = defaultdict(list)
        for rule in feed.fare_leg_rules:
            self._by_network[rule.network_id].append(rule)
        self._listed_from = {r.from_area_id for r in feed.fare_leg_rules if r.from_area_id}
        self._listed_to = {r.to_area_id for r in feed.fare_leg_rules if r.to_area_id}

    def match(
        self,
        network_id: str | None,
        from_areas: frozenset[str] | None,
        to_areas: frozenset[str] | None,
        from_timeframes: frozenset[str],
        to_timeframes: frozenset[str],
        category: str | None,
        media: str | None,
    ) -> LegFare | None:
        """The fare of the leg; an unknown end (None) is priced at its maximum over all ends."""
        if from_areas is None or to_areas is None:
            return _dearest(
                self.match(
                    network_id,
                    option if from_areas is None else from_areas,
                    option if to_areas is None else to_areas,
                    from_timeframes,
                    to_timeframes,
                    category,
                    media,
                )
                for option in self._open_ends
            )
        candidates = self._candidates(network_id)
        best: list[tuple[int, int, str, int, FareLegRule]] = []
        for rule in candidates:
            if not (
                self._area_ok(rule.from_area_id, from_areas, self._listed_from)
                and self._area_ok(rule.to_area_id, to_areas, self._listed_to)
                and (
                    rule.from_timeframe_group_id is None
                    or rule.from_timeframe_group_id in from_timeframes
                )
                and (
                    rule.to_timeframe_group_id is None
                    or rule.to_timeframe_group_id in to_timeframes
                )
            ):
                continue
            amount = self._amount_of(rule.fare_product_id, category, media)
            if amount is None:
                continue
            best.append((-rule.rule_priority, amount, rule.fare_product_id, rule.line, rule))
        if not best:
            return None
        _, amount, _, _, rule = min(best)
        return LegFare(rule.fare_product_id, amount, rule.leg_group_id)

    def _candidates(self, network_id: str | None) -> list[FareLegRule]:
        if self._priority:
            return [*self._by_network.get(network_id, ()), *self._by_network.get(None, ())]
        if network_id is not None and network_id in self._by_network:
            return self._by_network[network_id]
        return self._by_network.get(None, [])

    def _area_ok(self, rule_area: str | None, leg_areas: frozenset[str], listed: set[str]) -> bool:
        if rule_area is not None:
            return rule_area in leg_areas
        return self._priority or leg_areas.isdisjoint(listed)


@dataclass(frozen=True, slots=True)
class _V1Group:
    """The fare_rules.txt rows of a fare sharing route, origin and destination: one condition."""

    route_id: str | None
    origin_id: str | None
    destination_id: str | None
    contains: frozenset[str]

    def matches(
        self, route_id: str, origin: str | None, destination: str | None, zones: frozenset[str]
    ) -> bool:
        return (
            (self.route_id is None or self.route_id == route_id)
            and (self.origin_id is None or self.origin_id == origin)
            and (self.destination_id is None or self.destination_id == destination)
            and (not self.contains or self.contains == zones)
        )


@dataclass(frozen=True, slots=True)
class _V1Fare:
    """A fare of fare_attributes.txt with its rule groups (none: it applies everywhere)."""

    fare_id: str
    price: int
    agency_id: str | None
    transfers: int | None
    transfer_duration: int | None
    groups: tuple[_V1Group, ...]

    def covers(
        self,
        routes: Iterable[str],
        agencies: Iterable[str | None],
        origin: str | None,
        destination: str | None,
        zones: frozenset[str],
    ) -> bool:
        """Whether the rules let this fare cover legs on `routes` (of `agencies`) from zone
        `origin` to zone `destination` through exactly `zones`: every route must be allowed by
        a rule group that also matches the origin, destination and zones."""
        if self.agency_id is not None and any(
            agency not in (None, self.agency_id) for agency in agencies
        ):
            return False
        return not self.groups or all(
            any(group.matches(route, origin, destination, zones) for group in self.groups)
            for route in routes
        )


class FareRuleMatcher:
    """Fares v1 fare_attributes.txt + fare_rules.txt, for one leg or a run of legs."""

    def __init__(self, feed: GtfsFeed) -> None:
        contains: dict[tuple[str, str | None, str | None, str | None], set[str]] = defaultdict(set)
        for rule in feed.fare_rules:
            key = (rule.fare_id, rule.route_id, rule.origin_id, rule.destination_id)
            contains[key]
            if rule.contains_id:
                contains[key].add(rule.contains_id)
        groups: dict[str, list[_V1Group]] = defaultdict(list)
        for (fare_id, route_id, origin_id, destination_id), zones in contains.items():
            groups[fare_id].append(_V1Group(route_id, origin_id, destination_id, frozenset(zones)))
        # Cheapest first (ties by id): the first fare that covers a run is the one to charge.
        self._fares = sorted(
            (
                _V1Fare(
                    f.fare_id,
                    f.price.amount,
                    f.agency_id,
                    f.transfers,
                    f.transfer_duration,
                    tuple(groups.get(f.fare_id, ())),
                )
                for f in feed.fare_attributes.values()
            ),
            key=lambda fare: (fare.price, fare.fare_id),
        )
        transfers = [f.transfers for f in self._fares]
        # The most transfers any fare allows (None: unlimited), to stop growing a run early.
        self.max_transfers: int | None = (
            None if None in transfers else max((t or 0 for t in transfers), default=0)
        )
        self._durations = [f.transfer_duration for f in self._fares if f.transfers != 0]
        # An unknown end may be in any zone, or in none.
        self._open_zones = (None, *sorted({s.zone_id for s in feed.stops.values() if s.zone_id}))
        self._covering_memo: dict[
            tuple[frozenset[str], frozenset[str | None], str | None, str | None, frozenset[str]],
            tuple[_V1Fare, ...],
        ] = {}

    @property
    def allows_transfers(self) -> bool:
        return self.max_transfers != 0

    def longest_run_seconds(self, default_limit: int) -> int:
        """The longest time from first to last departure any fare's transfers may span."""
        return max((d if d is not None else default_limit for d in self._durations), default=0)

    def match(
        self,
        route_id: str,
        agency_id: str | None,
        from_zone: str | None,
        to_zone: str | None,
        zones: frozenset[str],
        *,
        open_start: bool = False,
        open_end: bool = False,
    ) -> LegFare | None:
        """The cheapest fare for one leg visiting `zones`; with an open end, the dearest over
        every zone for that end (visiting its known end's zone and the other end's)."""
        if open_start or open_end:
            return _dearest(
                self.match(
                    route_id,
                    agency_id,
                    zone if open_start else from_zone,
                    zone if open_end else to_zone,
                    frozenset(z for z in (from_zone, to_zone, zone) if z),
                )
                for zone in self._open_zones
            )
        return self.cheapest(
            frozenset((route_id,)), frozenset((agency_id,)), from_zone, to_zone, zones, 0, 0, 0
        )

    def cheapest(
        self,
        routes: frozenset[str],
        agencies: frozenset[str | None],
        origin: str | None,
        destination: str | None,
        zones: frozenset[str],
        transfers: int,
        span_seconds: float,
        default_limit: int,
        at_least: int = 0,
    ) -> LegFare | None:
        """The cheapest fare of at least `at_least` covering a run of legs with `transfers`
        transfers, the last departing `span_seconds` after the first. A fare with transfers but
        no transfer_duration allows `default_limit` seconds (the network's journey time).

        Which fares' rules cover the run depends only on its routes, agencies, end zones and
        zones passed, a few combinations per feed: memoised, then filtered by transfers."""
        key = (routes, agencies, origin, destination, zones)
        covering = self._covering_memo.get(key)
        if covering is None:
            covering = self._covering_memo[key] = tuple(
                fare
                for fare in self._fares
                if fare.covers(routes, agencies, origin, destination, zones)
            )
        for fare in covering:
            if fare.price < at_least:
                continue
            if transfers:
                if fare.transfers is not None and transfers > fare.transfers:
                    continue
                limit = fare.transfer_duration
                if span_seconds > (default_limit if limit is None else limit):
                    continue
            return LegFare(fare.fare_id, fare.price, None)
        return None


def _dearest(fares: Iterable[LegFare | None]) -> LegFare | None:
    """The dearest of the fares found (an open end's price), ties to the greater product id."""
    priced = [fare for fare in fares if fare is not None]
    return max(priced, key=lambda f: (f.amount, f.fare_product_id)) if priced else None
