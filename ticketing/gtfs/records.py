"""The feed's records as plain frozen values: what each GTFS, Fares v1/v2 or Faregate row says.

Only the columns the fare engine uses are kept. Ids that the GTFS reference leaves optional are
None when empty, so "not specified" is never confused with an id spelt "".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, time

from ticketing.money import Money


class FareMediaType(enum.IntEnum):
    """fare_media.txt `fare_media_type`."""

    NONE = 0  # no fare medium: cash paid to the driver, no ticket
    PAPER_TICKET = 1
    TRANSIT_CARD = 2
    CEMV = 3  # contactless bank card or device
    MOBILE_APP = 4


class FareTransferType(enum.IntEnum):
    """fare_transfer_rules.txt `fare_transfer_type`: how a transfer's cost is computed."""

    A_PLUS_AB = 0  # the first leg's fare plus the transfer product
    A_PLUS_AB_PLUS_B = 1  # both legs' fares plus the transfer product
    AB = 2  # the transfer product in place of the first leg's fare


class DurationLimitType(enum.IntEnum):
    """`duration_limit_type` (join and transfer rules): from which validation to which."""

    DEPARTURE_TO_ARRIVAL = 0  # first leg's departure to the current leg's arrival
    DEPARTURE_TO_DEPARTURE = 1  # first leg's departure to the current leg's departure
    ARRIVAL_TO_DEPARTURE = 2  # previous leg's arrival to the current leg's departure
    ARRIVAL_TO_ARRIVAL = 3  # previous leg's arrival to the current leg's arrival

    @property
    def from_first_departure(self) -> bool:
        return self <= DurationLimitType.DEPARTURE_TO_DEPARTURE

    @property
    def to_arrival(self) -> bool:
        return self in (_TO_ARRIVAL_TYPES)


_TO_ARRIVAL_TYPES = (DurationLimitType.DEPARTURE_TO_ARRIVAL, DurationLimitType.ARRIVAL_TO_ARRIVAL)


class CapPeriod(enum.StrEnum):
    """faregate_caps.txt `period`: a cap per service day or per calendar month of them."""

    DAY = "day"
    MONTH = "month"


class PassKind(enum.StrEnum):
    """faregate_passes.txt `kind`: a pass valid for one service day or one month of them."""

    DAY = "day"
    MONTH = "month"


class IncompleteJourneyPolicy(enum.StrEnum):
    """faregate_policy.txt `incomplete_journey`: how a journey with an unknown end is charged."""

    MAX_FARE = "max_fare"


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
    media_type: FareMediaType


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
    duration_limit_type: DurationLimitType | None


@dataclass(frozen=True, slots=True)
class FareTransferRule:
    from_leg_group_id: str | None
    to_leg_group_id: str | None
    transfer_count: int | None
    duration_limit: int | None
    duration_limit_type: DurationLimitType | None
    fare_transfer_type: FareTransferType
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
    """Fares v1: a fare class, its price, and the transfers it allows.

    `transfers` is how many transfers the fare covers (None: unlimited); `transfer_duration` is
    how long, in seconds from the first departure, it stays valid for them (None: not given).
    """

    fare_id: str
    price: Money
    agency_id: str | None
    transfers: int | None = None
    transfer_duration: int | None = None


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
    period: CapPeriod
    amount: Money


@dataclass(frozen=True, slots=True)
class PassCoverage:
    """faregate_passes.txt: what holding the pass product covers (several rows may widen it)."""

    fare_product_id: str
    kind: PassKind
    network_id: str | None
    route_id: str | None
    rider_category_id: str | None


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """faregate_policy.txt: incomplete-journey and service-day policy of a network."""

    network_id: str | None
    incomplete_journey: IncompleteJourneyPolicy
    max_journey_minutes: int | None
    service_day_cutoff: time | None
    timezone: str | None
