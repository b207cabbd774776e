"""The feed's records as plain frozen values: what each GTFS, Fares v1/v2 or Faregate row says.

Only the columns the fare engine uses are kept. Ids that the GTFS reference leaves optional are
None when empty, so "not specified" is never confused with an id spelt "".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from ticketing.money import Money


@dataclass(frozen=True, slots=True)
class Agency:
    agency_id: str | None
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class Route:
    route_id: str
    agency_id: str | None
    network_id: str | None
    short_name: str
    long_name: str


@dataclass(frozen=True, slots=True)
class Stop:
    stop_id: str
    name: str
    zone_id: str | None
    parent_station: str | None


@dataclass(frozen=True, slots=True)
class FareMedia:
    fare_media_id: str
    name: str
    media_type: int


@dataclass(frozen=True, slots=True)
class FareProduct:
    """One row of fare_products.txt; a product may have a row per fare medium and category."""

    fare_product_id: str
    name: str
    fare_media_id: str | None
    rider_category_id: str | None
    amount: Money


@dataclass(frozen=True, slots=True)
class RiderCategory:
    rider_category_id: str
    name: str
    is_default: bool


@dataclass(frozen=True, slots=True)
class FareLegRule:
    leg_group_id: str | None
    network_id: str | None
    from_area_id: str | None
    to_area_id: str | None
    from_timeframe_group_id: str | None
    to_timeframe_group_id: str | None
    fare_product_id: str
    rule_priority: int
    line: int


@dataclass(frozen=True, slots=True)
class FareLegJoinRule:
    from_network_id: str
    to_network_id: str
    from_stop_id: str | None
    to_stop_id: str | None
    duration_limit: int | None
    duration_limit_type: int | None


@dataclass(frozen=True, slots=True)
class FareTransferRule:
    from_leg_group_id: str | None
    to_leg_group_id: str | None
    transfer_count: int | None
    duration_limit: int | None
    duration_limit_type: int | None
    fare_transfer_type: int
    fare_product_id: str | None
    # Proposed field (google/transit PR 498, used by the gtfs.org TransLink example): the rule
    # may also link a leg to an earlier, non-adjacent leg of the same sub-journey.
    nonconsecutive_transfers_allowed: bool = False


@dataclass(frozen=True, slots=True)
class Timeframe:
    timeframe_group_id: str
    start_seconds: int
    end_seconds: int
    service_id: str


@dataclass(frozen=True, slots=True)
class Service:
    """calendar.txt and calendar_dates.txt for one service_id."""

    service_id: str
    weekdays: tuple[bool, bool, bool, bool, bool, bool, bool] | None = None
    start_date: date | None = None
    end_date: date | None = None
    added: frozenset[date] = field(default_factory=frozenset)
    removed: frozenset[date] = field(default_factory=frozenset)

    def runs_on(self, day: date) -> bool:
        if day in self.removed:
            return False
        if day in self.added:
            return True
        if self.weekdays is None or self.start_date is None or self.end_date is None:
            return False
        return self.start_date <= day <= self.end_date and self.weekdays[day.weekday()]


@dataclass(frozen=True, slots=True)
class FareAttribute:
    """Fares v1: a fare class and its price."""

    fare_id: str
    price: Money
    agency_id: str | None


@dataclass(frozen=True, slots=True)
class FareRule:
    """Fares v1: one condition under which a fare class applies."""

    fare_id: str
    route_id: str | None
    origin_id: str | None
    destination_id: str | None
    contains_id: str | None


@dataclass(frozen=True, slots=True)
class Cap:
    """faregate_caps.txt: the most a rider pays per service day or calendar month."""

    cap_id: str
    network_id: str | None
    rider_category_id: str | None
    period: str
    amount: Money


@dataclass(frozen=True, slots=True)
class PassCoverage:
    """faregate_passes.txt: what holding the pass product covers (several rows may widen it)."""

    fare_product_id: str
    kind: str
    network_id: str | None
    route_id: str | None
    rider_category_id: str | None


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """faregate_policy.txt: incomplete-journey and service-day policy of a network."""

    network_id: str | None
    incomplete_journey: str
    max_journey_minutes: int | None
    service_day_cutoff: time | None
    timezone: str | None
