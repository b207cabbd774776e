"""A fare feed compiled for pricing: lookup tables built once, leg fares memoised.

`load_feed(path)` reads and validates the GTFS files (ticketing.gtfs) and compiles them. Pricing
then never scans the feed per tap: a leg's fare is found by one dict lookup keyed by
(route, origin stop, destination stop, timeframes, category, medium, open ends), computed on first
use. The memo only ever caches a pure function of the immutable feed, so sharing a FareFeed
between account-days (or threads) cannot change any result.

Fares v2 takes precedence over Fares v1 when a feed has both (as the GTFS reference recommends).
Policy defaults (no faregate_policy.txt row): 180-minute journeys, 04:00 cut-off, the agencies'
time zone if they share one, else Asia/Ho_Chi_Minh.
Timeframes: a timeframe's service_id is looked up in calendar.txt / calendar_dates.txt; a
service_id defined in neither (or a feed without calendars) is taken as running every day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from ticketing.fares.errors import FareError
from ticketing.fares.matching import FareRuleMatcher, LegFare, LegRuleMatcher
from ticketing.gtfs.errors import FeedError
from ticketing.gtfs.loader import GtfsFeed, read_feed
from ticketing.gtfs.records import Cap, FareLegJoinRule, FareProduct, FareTransferRule, PassCoverage
from ticketing.money import Money
from ticketing.service_day import DEFAULT_CUTOFF, DEFAULT_TIMEZONE, service_day

DEFAULT_MAX_JOURNEY_MINUTES = 180


@dataclass(frozen=True, slots=True)
class Policy:
    """faregate_policy.txt resolved for one network: the row for it, else the default row."""

    max_journey_minutes: int
    cutoff: time
    timezone: ZoneInfo


# Leg memo key: route, from stop, to stop, from/to timeframe groups, category, medium, open ends.
_LegKey = tuple[
    str, str | None, str | None, frozenset[str], frozenset[str], str | None, str | None, bool, bool
]


class FareFeed:
    """A validated feed ready for pricing. Treat as immutable; build it with `load_feed`."""

    def __init__(self, gtfs: GtfsFeed) -> None:
        self.gtfs = gtfs
        self.currency = _single_currency(gtfs)
        self.uses_fares_v2 = bool(gtfs.fare_leg_rules)
        self._route_network = {r.route_id: r.network_id for r in gtfs.routes.values()}
        self._route_agency = {r.route_id: r.agency_id for r in gtfs.routes.values()}
        self._stop_areas = {
            stop_id: _areas_of(gtfs, stop_id)
            for stop_id in gtfs.stops.keys() | gtfs.stop_areas.keys()
        }
        self._stop_zone = {stop_id: _zone_of(gtfs, stop_id) for stop_id in gtfs.stops}
        self._products: dict[str, list[FareProduct]] = defaultdict(list)
        for product in gtfs.fare_products:
            self._products[product.fare_product_id].append(product)
        defaults = [c.rider_category_id for c in gtfs.rider_categories.values() if c.is_default]
        self.default_category: str | None = defaults[0] if len(defaults) == 1 else None
        self._policies = {row.network_id: row for row in gtfs.policies}
        self._policy_memo: dict[str | None, Policy] = {}
        self._timezone = self.policy_for(None).timezone
        self._route_timezone = {
            r.route_id: self._agency_zone(r.agency_id) for r in gtfs.routes.values()
        }
        self._leg_rules = LegRuleMatcher(gtfs, self.amount_of)
        self._fare_rules = FareRuleMatcher(gtfs)
        # Fares v1 fares that cover more than one leg make the day a covering problem.
        self.v1_transfers = not self.uses_fares_v2 and self._fare_rules.allows_transfers
        self.join_rules: tuple[FareLegJoinRule, ...] = gtfs.fare_leg_join_rules
        self.transfer_rules: tuple[FareTransferRule, ...] = gtfs.fare_transfer_rules
        rules = gtfs.fare_transfer_rules
        self.transfer_groups_from = {r.from_leg_group_id for r in rules if r.from_leg_group_id}
        self.transfer_groups_to = {r.to_leg_group_id for r in rules if r.to_leg_group_id}
        self.nonconsecutive_transfers = any(r.nonconsecutive_transfers_allowed for r in rules)
        self.caps: tuple[Cap, ...] = gtfs.caps
        self.caps_by_id = {cap.cap_id: cap for cap in gtfs.caps}
        self.passes: dict[str, tuple[PassCoverage, ...]] = {}
        for coverage in gtfs.passes:
            self.passes[coverage.fare_product_id] = (
                *self.passes.get(coverage.fare_product_id, ()),
                coverage,
            )
        self._leg_memo: dict[_LegKey, LegFare | None] = {}
        self._amount_memo: dict[tuple[str, str | None, str | None], int | None] = {}
        self._timeframes = bool(gtfs.timeframes)
        self._caps_memo: dict[tuple[str | None, str | None], tuple[Cap, ...]] = {}
        self._money: dict[int, Money] = {}
        self._zones_memo: dict[tuple[str, str | None, str | None], frozenset[str]] = {}

    # -- routes, stops, policy -------------------------------------------------------------

    def network_of(self, route_id: str) -> str | None:
        return self._route_network.get(route_id)

    def agency_of(self, route_id: str) -> str | None:
        return self._route_agency.get(route_id)

    def same_operator(self, route_a: str, route_b: str) -> bool:
        """Whether two known routes are run by the same agency (a feed with one agency runs all
        its routes; an unnamed agency in a feed of several is nobody's in particular)."""
        if not (self.knows_route(route_a) and self.knows_route(route_b)):
            return False
        agency = self._route_agency[route_a]
        single = len(self.gtfs.agencies) <= 1
        return agency == self._route_agency[route_b] and (agency is not None or single)

    def operators(self) -> frozenset[str]:
        """The agencies that run the feed's routes (the operators fares are apportioned to)."""
        return frozenset(a for a in self._route_agency.values() if a is not None)

    def pass_operators(self, product_id: str) -> frozenset[str]:
        """The agencies of the routes a pass product covers: those of its networks and routes
        (`faregate_passes.txt`), every route for a row naming neither; none for a product
        that is not a pass of this feed."""
        found: set[str] = set()
        for coverage in self.passes.get(product_id, ()):
            for route_id, network_id in self._route_network.items():
                if coverage.route_id is not None and route_id != coverage.route_id:
                    continue
                if coverage.network_id is not None and network_id != coverage.network_id:
                    continue
                agency = self._route_agency.get(route_id)
                if agency is not None:
                    found.add(agency)
        return frozenset(found)

    def knows_route(self, route_id: str) -> bool:
        return route_id in self._route_network

    def knows_stop(self, stop_id: str) -> bool:
        return stop_id in self._stop_zone or stop_id in self._stop_areas

    def parent_station(self, stop_id: str) -> str | None:
        stop = self.gtfs.stops.get(stop_id)
        return stop.parent_station if stop else None

    def policy_for(self, network_id: str | None) -> Policy:
        policy = self._policy_memo.get(network_id)
        if policy is None:
            row = self._policies.get(network_id) or self._policies.get(None)
            default = self._policies.get(None)
            minutes = (row and row.max_journey_minutes) or (default and default.max_journey_minutes)
            cutoff = (row and row.service_day_cutoff) or (default and default.service_day_cutoff)
            zone = (row and row.timezone) or (default and default.timezone) or self._feed_zone()
            policy = Policy(
                minutes or DEFAULT_MAX_JOURNEY_MINUTES,
                cutoff or DEFAULT_CUTOFF,
                ZoneInfo(zone or DEFAULT_TIMEZONE),
            )
            self._policy_memo[network_id] = policy
        return policy

    def _feed_zone(self) -> str | None:
        """The agencies' zone when the policy names none (a non-Hanoi feed keeps its own day)."""
        zones = {a.timezone for a in self.gtfs.agencies if a.timezone}
        return zones.pop() if len(zones) == 1 else None

    def service_day_of(self, route_id: str, at: datetime) -> date:
        """The service day of a ride on this route starting at `at`, per its network's policy."""
        policy = self.policy_for(self._route_network.get(route_id))
        return service_day(at, timezone=policy.timezone, cutoff=policy.cutoff)

    def max_journey_seconds(self, route_id: str) -> int:
        return self.policy_for(self.network_of(route_id)).max_journey_minutes * 60

    def resolve_category(self, rider_category: str | None) -> str | None:
        """The category to price for: the one asked (which must exist) or the feed's default."""
        if rider_category is None:
            return self.default_category
        if rider_category not in self.gtfs.rider_categories:
            known = ", ".join(sorted(self.gtfs.rider_categories)) or "none"
            raise FareError(f'unknown rider category "{rider_category}" (feed has: {known})')
        return rider_category

    def resolve_media(self, fare_media_id: str | None) -> str | None:
        """The fare medium to price for, which must exist in fare_media.txt (None: any)."""
        if fare_media_id is not None and fare_media_id not in self.gtfs.fare_media:
            known = ", ".join(sorted(self.gtfs.fare_media)) or "none"
            raise FareError(f'unknown fare medium "{fare_media_id}" (feed has: {known})')
        return fare_media_id

    def money(self, amount: int) -> Money:
        """`amount` in the feed's currency; Money is immutable, so equal amounts share one."""
        value = self._money.get(amount)
        if value is None:
            value = self._money[amount] = Money(amount, self.currency)
        return value

    def caps_for(self, network_id: str | None, category: str | None) -> tuple[Cap, ...]:
        """The caps covering a leg on this network for this rider category."""
        key = (network_id, category)
        caps = self._caps_memo.get(key)
        if caps is None:
            caps = tuple(
                cap
                for cap in self.caps
                if cap.network_id in (None, network_id)
                and cap.rider_category_id in (None, category)
            )
            self._caps_memo[key] = caps
        return caps

    # -- products ---------------------------------------------------------------------------

    def product_name(self, product_id: str) -> str | None:
        """The product's name as fare_products.txt gives it (None: unknown or unnamed)."""
        rows = self._products.get(product_id, ())
        return next((r.name for r in rows if r.name), None)

    def amount_of(self, product_id: str, category: str | None, media: str | None) -> int | None:
        """The product's price for a category (its own row, else a row for every category) and
        medium (that medium or an unspecified one; any medium when none is asked): the cheapest
        such row, or None when the product is not sold to that rider. Memoised: transfers ask
        for the same few products once per rule per pair of legs."""
        key = (product_id, category, media)
        try:
            return self._amount_memo[key]
        except KeyError:
            pass
        rows = self._products.get(product_id, ())
        if media is not None:
            rows = [r for r in rows if r.fare_media_id in (media, None)]
        own = [r for r in rows if r.rider_category_id == category and category is not None]
        eligible = own or [r for r in rows if r.rider_category_id is None]
        amount = min(r.amount.amount for r in eligible) if eligible else None
        self._amount_memo[key] = amount
        return amount

    # -- legs -------------------------------------------------------------------------------

    def leg_fare(
        self,
        route_id: str,
        from_stop: str | None,
        to_stop: str | None,
        departure: datetime,
        arrival: datetime | None,
        category: str | None,
        media: str | None,
        *,
        open_start: bool = False,
        open_end: bool = False,
    ) -> LegFare | None:
        """The fare of one (effective) leg, memoised. An open end is priced at its maximum."""
        if self._timeframes:
            from_tf = self._timeframes_at(route_id, departure)
            to_tf = self._timeframes_at(route_id, arrival or departure)
        else:
            from_tf = to_tf = frozenset()
        key = (route_id, from_stop, to_stop, from_tf, to_tf, category, media, open_start, open_end)
        try:
            return self._leg_memo[key]
        except KeyError:
            pass
        fare: LegFare | None
        if self.uses_fares_v2:
            fare = self._leg_rules.match(
                self.network_of(route_id),
                None if open_start else self._stop_areas.get(from_stop or "", frozenset()),
                None if open_end else self._stop_areas.get(to_stop or "", frozenset()),
                from_tf,
                to_tf,
                category,
                media,
            )
        else:
            fare = self._fare_rules.match(
                route_id,
                self._route_agency.get(route_id),
                self._stop_zone.get(from_stop or ""),
                self._stop_zone.get(to_stop or ""),
                self.zones_passed(route_id, from_stop, to_stop),
                open_start=open_start,
                open_end=open_end,
            )
        self._leg_memo[key] = fare
        return fare

    # -- Fares v1 runs of legs ----------------------------------------------------------------

    def zone_of(self, stop_id: str) -> str | None:
        """A stop's fare zone (its station's when it has none of its own)."""
        return self._stop_zone.get(stop_id)

    def zones_passed(
        self, route_id: str, from_stop: str | None, to_stop: str | None
    ) -> frozenset[str]:
        """The fare zones a ride between two stops visits: both stops' zones, and (when the
        feed's trips were read for contains_id rules) those of every stop in between on the
        route's trips that call at both, in that order."""
        key = (route_id, from_stop, to_stop)
        zones = self._zones_memo.get(key)
        if zones is None:
            found = {
                zone
                for zone in (
                    self._stop_zone.get(from_stop or ""),
                    self._stop_zone.get(to_stop or ""),
                )
                if zone is not None
            }
            start, end = self._station(from_stop), self._station(to_stop)
            for pattern in self.gtfs.route_patterns.get(route_id, ()):
                stations = [self._station(stop) for stop in pattern]
                if start in stations and end in stations[stations.index(start) :]:
                    first = stations.index(start)
                    last = stations.index(end, first)
                    for stop in pattern[first : last + 1]:
                        zone = self._stop_zone.get(stop)
                        if zone is not None:
                            found.add(zone)
            zones = self._zones_memo[key] = frozenset(found)
        return zones

    def _station(self, stop_id: str | None) -> str | None:
        """A stop's parent station, or the stop itself: taps and trips may name either."""
        return (self.parent_station(stop_id) or stop_id) if stop_id else None

    @property
    def v1_fares(self) -> FareRuleMatcher:
        return self._fare_rules

    def _timeframes_at(self, route_id: str, at: datetime) -> frozenset[str]:
        local = at.astimezone(self._route_timezone.get(route_id, self._timezone))
        day = local.date()
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        services = self.gtfs.services
        return frozenset(
            frame.timeframe_group_id
            for frame in self.gtfs.timeframes
            if frame.start_seconds <= seconds < frame.end_seconds
            and (frame.service_id not in services or services[frame.service_id].runs_on(day))
        )

    def _agency_zone(self, agency_id: str | None) -> ZoneInfo:
        for agency in self.gtfs.agencies:
            if agency.agency_id == agency_id and agency.timezone:
                return ZoneInfo(agency.timezone)
        return self._timezone


def load_feed(path: str | Path) -> FareFeed:
    """Read, validate and compile the feed at `path` (a folder or a zip)."""
    return FareFeed(read_feed(path))


def _single_currency(gtfs: GtfsFeed) -> str:
    currencies = {p.amount.currency for p in gtfs.fare_products}
    currencies |= {f.price.currency for f in gtfs.fare_attributes.values()}
    currencies |= {c.amount.currency for c in gtfs.caps}
    if len(currencies) > 1:
        raise FeedError(gtfs.name, None, f"mixes currencies {', '.join(sorted(currencies))}")
    if not currencies:
        raise FeedError(
            gtfs.name, None, "has no fares (no fare_products.txt or fare_attributes.txt)"
        )
    return currencies.pop()


def _areas_of(gtfs: GtfsFeed, stop_id: str) -> frozenset[str]:
    """A stop's areas; a platform with none of its own is in its station's areas."""
    own = gtfs.stop_areas.get(stop_id)
    if own:
        return own
    stop = gtfs.stops.get(stop_id)
    if stop is not None and stop.parent_station:
        return gtfs.stop_areas.get(stop.parent_station, frozenset())
    return frozenset()


def _zone_of(gtfs: GtfsFeed, stop_id: str) -> str | None:
    stop = gtfs.stops[stop_id]
    if stop.zone_id is None and stop.parent_station in gtfs.stops:
        return gtfs.stops[stop.parent_station].zone_id
    return stop.zone_id
