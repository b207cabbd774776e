"""Which fare product a single leg needs: Fares v2 fare_leg_rules and Fares v1 fare_rules.

Fares v2 (gtfs.org reference, fare_leg_rules.txt):
- With a `rule_priority` column, an empty network/area/timeframe field does not affect matching,
  and among matching rules only those of the highest priority (empty = 0) count.
- Without it, an empty network or area field matches every value *not listed* in that column
  (so an exact match always wins over the empty "everything else" row); empty timeframes match.
- Rules whose product has no row for the rider's category (or medium) do not apply. When several
  products remain, the rider is charged the cheapest: the engine picks the best fare for them.

Fares v1 (fare_rules.txt): a fare applies when one of its rule groups matches the route, origin
zone and destination zone, and its `contains_id` zones, if any, are exactly the zones visited (here
the origin and destination zones: taps do not tell the zones passed in between). A fare with no
rules applies everywhere. The cheapest applicable fare is charged.

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
    fare_id: str
    route_id: str | None
    origin_id: str | None
    destination_id: str | None
    contains: frozenset[str]


class FareRuleMatcher:
    """Fares v1 fare_attributes.txt + fare_rules.txt."""

    def __init__(self, feed: GtfsFeed) -> None:
        self._prices = {f.fare_id: f.price.amount for f in feed.fare_attributes.values()}
        contains: dict[tuple[str, str | None, str | None, str | None], set[str]] = defaultdict(set)
        for rule in feed.fare_rules:
            key = (rule.fare_id, rule.route_id, rule.origin_id, rule.destination_id)
            contains[key]
            if rule.contains_id:
                contains[key].add(rule.contains_id)
        self._groups = [_V1Group(*key, frozenset(zones)) for key, zones in contains.items()]
        with_rules = {g.fare_id for g in self._groups}
        self._everywhere = [fare_id for fare_id in self._prices if fare_id not in with_rules]
        # An unknown end may be in any zone, or in none.
        self._open_zones = (None, *sorted({s.zone_id for s in feed.stops.values() if s.zone_id}))

    def match(
        self,
        route_id: str,
        from_zone: str | None,
        to_zone: str | None,
        *,
        open_start: bool = False,
        open_end: bool = False,
    ) -> LegFare | None:
        """The cheapest applicable fare; with an open end, the dearest over every zone for it."""
        if open_start or open_end:
            return _dearest(
                self.match(
                    route_id,
                    zone if open_start else from_zone,
                    zone if open_end else to_zone,
                )
                for zone in self._open_zones
            )
        visited = frozenset(z for z in (from_zone, to_zone) if z)
        fare_ids = set(self._everywhere)
        for group in self._groups:
            if (
                (group.route_id is None or group.route_id == route_id)
                and (group.origin_id is None or group.origin_id == from_zone)
                and (group.destination_id is None or group.destination_id == to_zone)
                and (not group.contains or group.contains == visited)
            ):
                fare_ids.add(group.fare_id)
        if not fare_ids:
            return None
        amount, fare_id = min((self._prices[f], f) for f in fare_ids)
        return LegFare(fare_id, amount, None)


def _dearest(fares: Iterable[LegFare | None]) -> LegFare | None:
    """The dearest of the fares found (an open end's price), ties to the greater product id."""
    priced = [fare for fare in fares if fare is not None]
    return max(priced, key=lambda f: (f.amount, f.fare_product_id)) if priced else None
