"""Parse a GTFS feed (folder or zip) into records, checking formats and cross-references.

Reads the files fares need: agency, routes, stops, calendar(_dates), Fares v1 (fare_attributes,
fare_rules), Fares v2 (fare_media, fare_products, rider_categories, fare_leg_rules,
fare_leg_join_rules, fare_transfer_rules, areas, stop_areas, networks, route_networks, timeframes)
and Faregate's own faregate_caps / faregate_passes / faregate_policy. Timetables are not read
(fares are priced from taps, not from scheduled trips), except one thing: when Fares v1 rules
use contains_id, the stop order of each route's trips (trips + stop_times) tells the zones a
ride passes between its two stops.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ticketing.gtfs.errors import FeedError
from ticketing.gtfs.records import (
    Agency,
    Cap,
    CapPeriod,
    DurationLimitType,
    FareAttribute,
    FareLegJoinRule,
    FareLegRule,
    FareMedia,
    FareMediaType,
    FareProduct,
    FareRule,
    FareTransferRule,
    FareTransferType,
    IncompleteJourneyPolicy,
    PassCoverage,
    PassKind,
    PolicyRow,
    RiderCategory,
    Route,
    Service,
    Stop,
    Timeframe,
)
from ticketing.gtfs.source import FeedSource, Row


@dataclass(frozen=True, slots=True)
class GtfsFeed:
    """Everything fare-relevant a feed says, validated; `ticketing.fares` compiles it."""

    name: str
    agencies: tuple[Agency, ...]
    routes: dict[str, Route]
    stops: dict[str, Stop]
    services: dict[str, Service]
    networks: frozenset[str]
    areas: frozenset[str]
    stop_areas: dict[str, frozenset[str]]
    fare_media: dict[str, FareMedia]
    fare_products: tuple[FareProduct, ...]
    rider_categories: dict[str, RiderCategory]
    fare_leg_rules: tuple[FareLegRule, ...]
    has_rule_priority: bool
    fare_leg_join_rules: tuple[FareLegJoinRule, ...]
    fare_transfer_rules: tuple[FareTransferRule, ...]
    timeframes: tuple[Timeframe, ...]
    fare_attributes: dict[str, FareAttribute]
    fare_rules: tuple[FareRule, ...]
    caps: tuple[Cap, ...]
    passes: tuple[PassCoverage, ...]
    policies: tuple[PolicyRow, ...]
    # route_id -> the distinct stop sequences of its trips; only read for contains_id rules.
    route_patterns: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # network_id -> networks.txt's network_name, for riders to read (a cap's network).
    network_names: dict[str, str] = field(default_factory=dict)


def read_feed(path: str | Path) -> GtfsFeed:
    """Read and validate the feed at `path` (folder or zip); FeedError on the first problem."""
    source = FeedSource(path)
    agencies = _agencies(source)
    stops = _stops(source)
    networks = _ids(source, "networks.txt", "network_id")
    routes = _routes(source, agencies, networks)
    networks = networks | {r.network_id for r in routes.values() if r.network_id}
    services = _services(source)
    areas = _ids(source, "areas.txt", "area_id")
    fare_media = {
        row.required("fare_media_id"): FareMedia(
            row.required("fare_media_id"),
            row.get("fare_media_name"),
            FareMediaType(row.enum("fare_media_type", tuple(FareMediaType), default=0) or 0),
        )
        for row in source.rows("fare_media.txt", ("fare_media_id", "fare_media_type"))
    }
    rider_categories = _rider_categories(source)
    products = _fare_products(source, fare_media, rider_categories)
    product_ids = {p.fare_product_id for p in products}
    timeframes = _timeframes(source)
    leg_rules = _fare_leg_rules(
        source, networks, areas, product_ids, {t.timeframe_group_id for t in timeframes}
    )
    fare_attributes = _fare_attributes(source)
    fare_rules = _fare_rules(source, fare_attributes, routes)
    needs_patterns = not leg_rules and any(rule.contains_id for rule in fare_rules)
    network_names = {
        row.required("network_id"): row.get("network_name")
        for row in source.rows("networks.txt", ("network_id",))
        if row.get("network_name")
    }
    return GtfsFeed(
        name=Path(path).name,
        network_names=network_names,
        agencies=agencies,
        routes=routes,
        stops=stops,
        services=services,
        networks=networks,
        areas=areas,
        stop_areas=_stop_areas(source, areas, stops),
        fare_media=fare_media,
        fare_products=products,
        rider_categories=rider_categories,
        fare_leg_rules=leg_rules,
        has_rule_priority="rule_priority" in source.header("fare_leg_rules.txt")
        if source.has("fare_leg_rules.txt")
        else False,
        fare_leg_join_rules=_join_rules(source, networks, stops),
        fare_transfer_rules=_transfer_rules(
            source, {r.leg_group_id for r in leg_rules}, product_ids
        ),
        timeframes=timeframes,
        fare_attributes=fare_attributes,
        fare_rules=fare_rules,
        caps=_caps(source, networks, rider_categories),
        passes=_passes(source, product_ids, networks, routes, rider_categories),
        policies=_policies(source, networks),
        route_patterns=_route_patterns(source, routes) if needs_patterns else {},
    )


def _ids(source: FeedSource, file: str, column: str) -> frozenset[str]:
    seen: set[str] = set()
    for row in source.rows(file, (column,)):
        seen.add(_new_id(row, column, seen))
    return frozenset(seen)


def _new_id(row: Row, column: str, seen: Container[str]) -> str:
    """The row's required id, refused if an earlier row of the file had it."""
    value = row.required(column)
    if value in seen:
        raise row.error(f'duplicate {column} "{value}"')
    return value


def _check_ref(
    row: Row, column: str, known: Iterable[str | None] | frozenset[str], what: str
) -> str | None:
    value = row.optional(column)
    if value is not None and value not in known:
        raise row.error(f'{column} "{value}" is not a known {what}')
    return value


def _required_ref(
    row: Row, column: str, known: Iterable[str | None] | frozenset[str], what: str
) -> str:
    """A reference that must be given and must name something known."""
    return _check_ref(row, column, known, what) or row.required(column)


def _zone(row: Row, column: str) -> str | None:
    name = row.optional(column)
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise row.error(f'{column} "{name}" is not an IANA time zone') from None
    return name


def _agencies(source: FeedSource) -> tuple[Agency, ...]:
    return tuple(
        Agency(
            row.optional("agency_id"), row.get("agency_name"), _zone(row, "agency_timezone") or ""
        )
        for row in source.rows("agency.txt", ("agency_timezone",))
    )


def _stops(source: FeedSource) -> dict[str, Stop]:
    stops: dict[str, Stop] = {}
    for row in source.rows("stops.txt", ("stop_id",)):
        stop_id = _new_id(row, "stop_id", stops)
        stops[stop_id] = Stop(
            stop_id, row.get("stop_name"), row.optional("zone_id"), row.optional("parent_station")
        )
    return stops


def _routes(
    source: FeedSource, agencies: tuple[Agency, ...], networks: frozenset[str]
) -> dict[str, Route]:
    agency_ids = {a.agency_id for a in agencies}
    only_agency = agencies[0].agency_id if len(agencies) == 1 else None
    assigned: dict[str, str] = {}
    for row in source.rows("route_networks.txt", ("network_id", "route_id")):
        route_id = row.required("route_id")
        if route_id in assigned:
            raise row.error(f'route_id "{route_id}" is already in network "{assigned[route_id]}"')
        assigned[route_id] = _check_ref(row, "network_id", networks, "network (networks.txt)") or ""
    routes: dict[str, Route] = {}
    for row in source.rows("routes.txt", ("route_id",)):
        route_id = _new_id(row, "route_id", routes)
        agency_id = row.optional("agency_id")
        if agency_id is not None and agencies and agency_id not in agency_ids:
            raise row.error(f'agency_id "{agency_id}" is not a known agency')
        routes[route_id] = Route(
            route_id,
            agency_id or only_agency,
            row.optional("network_id") or assigned.get(route_id),
            row.get("route_short_name"),
            row.get("route_long_name"),
        )
    for route_id in assigned:
        if route_id not in routes:
            raise FeedError(
                "route_networks.txt", None, f'route_id "{route_id}" is not in routes.txt'
            )
    return routes


def _services(source: FeedSource) -> dict[str, Service]:
    services: dict[str, Service] = {}
    for row in source.rows("calendar.txt", ("service_id", "start_date", "end_date")):
        days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        flags = tuple(row.enum(day, (0, 1), default=0) == 1 for day in days)
        services[row.required("service_id")] = Service(
            row.required("service_id"),
            (flags[0], flags[1], flags[2], flags[3], flags[4], flags[5], flags[6]),
            row.gtfs_date("start_date"),
            row.gtfs_date("end_date"),
        )
    added: dict[str, set[date]] = defaultdict(set)
    removed: dict[str, set[date]] = defaultdict(set)
    for row in source.rows("calendar_dates.txt", ("service_id", "date", "exception_type")):
        kind = row.enum("exception_type", (1, 2))
        (added if kind == 1 else removed)[row.required("service_id")].add(row.gtfs_date("date"))
    for service_id in added.keys() | removed.keys():
        base = services.get(service_id, Service(service_id))
        services[service_id] = Service(
            service_id,
            base.weekdays,
            base.start_date,
            base.end_date,
            frozenset(added[service_id]),
            frozenset(removed[service_id]),
        )
    return services


def _rider_categories(source: FeedSource) -> dict[str, RiderCategory]:
    categories: dict[str, RiderCategory] = {}
    for row in source.rows("rider_categories.txt", ("rider_category_id",)):
        category_id = _new_id(row, "rider_category_id", categories)
        categories[category_id] = RiderCategory(
            category_id,
            row.get("rider_category_name"),
            row.enum("is_default_fare_category", (0, 1), default=0) == 1,
        )
    return categories


def _fare_products(
    source: FeedSource, media: dict[str, FareMedia], categories: dict[str, RiderCategory]
) -> tuple[FareProduct, ...]:
    products: list[FareProduct] = []
    keys: set[tuple[str, str | None, str | None]] = set()
    for row in source.rows("fare_products.txt", ("fare_product_id", "amount", "currency")):
        product_id = row.required("fare_product_id")
        media_id = _check_ref(row, "fare_media_id", media, "fare medium (fare_media.txt)")
        category_id = _check_ref(
            row, "rider_category_id", categories, "rider category (rider_categories.txt)"
        )
        key = (product_id, media_id, category_id)
        if key in keys:
            raise row.error(
                f'duplicate fare product "{product_id}" for the same medium and rider category'
            )
        keys.add(key)
        currency = row.currency("currency")
        products.append(
            FareProduct(
                product_id,
                row.get("fare_product_name"),
                media_id,
                category_id,
                row.major_amount("amount", currency),
            )
        )
    return tuple(products)


def _timeframes(source: FeedSource) -> tuple[Timeframe, ...]:
    frames: list[Timeframe] = []
    for row in source.rows("timeframes.txt", ("timeframe_group_id", "service_id")):
        start = row.seconds_of_day("start_time", default=0)
        end = row.seconds_of_day("end_time", default=24 * 3600)
        if start > 24 * 3600 or end > 24 * 3600:
            raise row.error("timeframe times may not exceed 24:00:00")
        if bool(row.get("start_time")) != bool(row.get("end_time")):
            raise row.error("start_time and end_time must be given together")
        frames.append(
            Timeframe(row.required("timeframe_group_id"), start, end, row.required("service_id"))
        )
    return tuple(frames)


def _fare_leg_rules(
    source: FeedSource,
    networks: frozenset[str],
    areas: frozenset[str],
    products: set[str],
    timeframe_groups: set[str],
) -> tuple[FareLegRule, ...]:
    rules: list[FareLegRule] = []
    for row in source.rows("fare_leg_rules.txt", ("fare_product_id",)):
        rules.append(
            FareLegRule(
                leg_group_id=row.optional("leg_group_id"),
                network_id=_check_ref(row, "network_id", networks, "network"),
                from_area_id=_check_ref(row, "from_area_id", areas, "area (areas.txt)"),
                to_area_id=_check_ref(row, "to_area_id", areas, "area (areas.txt)"),
                from_timeframe_group_id=_check_ref(
                    row, "from_timeframe_group_id", timeframe_groups, "timeframe group"
                ),
                to_timeframe_group_id=_check_ref(
                    row, "to_timeframe_group_id", timeframe_groups, "timeframe group"
                ),
                fare_product_id=_check_ref(
                    row, "fare_product_id", products, "fare product (fare_products.txt)"
                )
                or "",
                rule_priority=row.integer("rule_priority", default=0) or 0,
                line=row.line,
            )
        )
    return tuple(rules)


def _stop_areas(
    source: FeedSource, areas: frozenset[str], stops: dict[str, Stop]
) -> dict[str, frozenset[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for row in source.rows("stop_areas.txt", ("area_id", "stop_id")):
        area_id = _required_ref(row, "area_id", areas, "area (areas.txt)")
        stop_id = row.required("stop_id")
        if stops and stop_id not in stops:
            raise row.error(f'stop_id "{stop_id}" is not a known stop (stops.txt)')
        members[stop_id].add(area_id)
    return {stop_id: frozenset(ids) for stop_id, ids in members.items()}


def _join_rules(
    source: FeedSource, networks: frozenset[str], stops: dict[str, Stop]
) -> tuple[FareLegJoinRule, ...]:
    rules: list[FareLegJoinRule] = []
    for row in source.rows("fare_leg_join_rules.txt", ("from_network_id", "to_network_id")):
        from_network = _required_ref(row, "from_network_id", networks, "network")
        to_network = _required_ref(row, "to_network_id", networks, "network")
        from_stop = (
            _check_ref(row, "from_stop_id", stops, "stop")
            if stops
            else row.optional("from_stop_id")
        )
        to_stop = (
            _check_ref(row, "to_stop_id", stops, "stop") if stops else row.optional("to_stop_id")
        )
        if (from_stop is None) != (to_stop is None):
            raise row.error("from_stop_id and to_stop_id must be given together")
        limit, limit_type = _duration_limit(row)
        rules.append(
            FareLegJoinRule(from_network, to_network, from_stop, to_stop, limit, limit_type)
        )
    return tuple(rules)


def _duration_limit(row: Row) -> tuple[int | None, DurationLimitType | None]:
    limit = row.integer("duration_limit")
    if limit is not None and limit <= 0:
        raise row.error(f"duration_limit {limit} is not a positive number of seconds")
    limit_type = row.enum("duration_limit_type", tuple(DurationLimitType))
    if (limit is None) != (limit_type is None):
        raise row.error(
            "duration_limit_type is required with duration_limit and forbidden without it"
        )
    return limit, None if limit_type is None else DurationLimitType(limit_type)


def _transfer_rules(
    source: FeedSource, leg_groups: set[str | None], products: set[str]
) -> tuple[FareTransferRule, ...]:
    rules: list[FareTransferRule] = []
    for row in source.rows("fare_transfer_rules.txt", ("fare_transfer_type",)):
        from_group = _check_ref(
            row, "from_leg_group_id", leg_groups, "leg group (fare_leg_rules.leg_group_id)"
        )
        to_group = _check_ref(
            row, "to_leg_group_id", leg_groups, "leg group (fare_leg_rules.leg_group_id)"
        )
        count = row.integer("transfer_count")
        if count is not None and (count == 0 or count < -1):
            raise row.error(f"transfer_count {count} is not -1 or a positive integer")
        if from_group == to_group and count is None:
            raise row.error(
                "transfer_count is required when from_leg_group_id equals to_leg_group_id"
            )
        if from_group != to_group and count is not None:
            raise row.error(
                "transfer_count is forbidden when from_leg_group_id differs from to_leg_group_id"
            )
        limit, limit_type = _duration_limit(row)
        rules.append(
            FareTransferRule(
                from_group,
                to_group,
                count,
                limit,
                limit_type,
                FareTransferType(row.enum("fare_transfer_type", tuple(FareTransferType)) or 0),
                _check_ref(row, "fare_product_id", products, "fare product (fare_products.txt)"),
                row.enum("nonconsecutive_transfers_allowed", (0, 1), default=0) == 1,
            )
        )
    return tuple(rules)


def _route_patterns(
    source: FeedSource, routes: dict[str, Route]
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Each route's distinct stop sequences, from trips.txt and stop_times.txt."""
    route_of: dict[str, str] = {}
    for row in source.rows("trips.txt", ("route_id", "trip_id")):
        route_of[row.required("trip_id")] = _required_ref(row, "route_id", routes, "route")
    calls: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in source.rows("stop_times.txt", ("trip_id", "stop_id", "stop_sequence")):
        trip_id = row.required("trip_id")
        if trip_id not in route_of:
            raise row.error(f'trip_id "{trip_id}" is not a known trip (trips.txt)')
        calls[trip_id].append((row.integer("stop_sequence") or 0, row.required("stop_id")))
    patterns: dict[str, dict[tuple[str, ...], None]] = defaultdict(dict)
    for trip_id, stops in calls.items():
        patterns[route_of[trip_id]][tuple(stop for _, stop in sorted(stops))] = None
    return {route_id: tuple(found) for route_id, found in patterns.items()}


def _fare_attributes(source: FeedSource) -> dict[str, FareAttribute]:
    fares: dict[str, FareAttribute] = {}
    for row in source.rows("fare_attributes.txt", ("fare_id", "price", "currency_type")):
        fare_id = _new_id(row, "fare_id", fares)
        currency = row.currency("currency_type")
        duration = row.integer("transfer_duration")
        if duration is not None and duration < 0:
            raise row.error(f"transfer_duration {duration} is not a number of seconds")
        fares[fare_id] = FareAttribute(
            fare_id,
            row.major_amount("price", currency),
            row.optional("agency_id"),
            # Empty means unlimited transfers (GTFS reference, fare_attributes.txt); more than
            # 2 is beyond the reference but in real feeds: read, with a warning (as OTP does).
            transfers=row.count_beyond("transfers", (0, 1, 2)),
            transfer_duration=duration,
        )
    return fares


def _fare_rules(
    source: FeedSource, fares: dict[str, FareAttribute], routes: dict[str, Route]
) -> tuple[FareRule, ...]:
    return tuple(
        FareRule(
            _required_ref(row, "fare_id", fares, "fare (fare_attributes.txt)"),
            _check_ref(row, "route_id", routes, "route (routes.txt)")
            if routes
            else row.optional("route_id"),
            row.optional("origin_id"),
            row.optional("destination_id"),
            row.optional("contains_id"),
        )
        for row in source.rows("fare_rules.txt", ("fare_id",))
    )


def _caps(
    source: FeedSource, networks: frozenset[str], categories: dict[str, RiderCategory]
) -> tuple[Cap, ...]:
    caps: list[Cap] = []
    seen: set[str] = set()
    for row in source.rows("faregate_caps.txt", ("cap_id", "period", "amount", "currency")):
        cap_id = _new_id(row, "cap_id", seen)
        seen.add(cap_id)
        period = _text_enum(row, "period", CapPeriod)
        amount = row.minor_amount("amount", row.currency("currency"))
        if amount.amount < 0:
            raise row.error(f"amount {amount.amount} is negative")
        caps.append(
            Cap(
                cap_id,
                _check_ref(row, "network_id", networks, "network"),
                _check_ref(row, "rider_category_id", categories, "rider category"),
                period,
                amount,
            )
        )
    return tuple(caps)


def _passes(
    source: FeedSource,
    products: set[str],
    networks: frozenset[str],
    routes: dict[str, Route],
    categories: dict[str, RiderCategory],
) -> tuple[PassCoverage, ...]:
    passes: list[PassCoverage] = []
    kinds: dict[str, PassKind] = {}
    for row in source.rows("faregate_passes.txt", ("fare_product_id", "kind")):
        product_id = (
            _check_ref(row, "fare_product_id", products, "fare product (fare_products.txt)") or ""
        )
        kind = _text_enum(row, "kind", PassKind)
        if kinds.setdefault(product_id, kind) != kind:
            raise row.error(f'pass "{product_id}" is already a {kinds[product_id]} pass')
        passes.append(
            PassCoverage(
                product_id,
                kind,
                _check_ref(row, "network_id", networks, "network"),
                _check_ref(row, "route_id", routes, "route (routes.txt)"),
                _check_ref(row, "rider_category_id", categories, "rider category"),
            )
        )
    return tuple(passes)


def _policies(source: FeedSource, networks: frozenset[str]) -> tuple[PolicyRow, ...]:
    policies: list[PolicyRow] = []
    seen: set[str | None] = set()
    for row in source.rows("faregate_policy.txt", ()):
        network_id = _check_ref(row, "network_id", networks, "network")
        if network_id in seen:
            raise row.error(f'a policy for network "{network_id or "(default)"}" is already given')
        seen.add(network_id)
        incomplete = (
            _text_enum(row, "incomplete_journey", IncompleteJourneyPolicy)
            if row.get("incomplete_journey")
            else IncompleteJourneyPolicy.MAX_FARE
        )
        minutes = row.integer("max_journey_minutes")
        if minutes is not None and minutes <= 0:
            raise row.error(f"max_journey_minutes {minutes} is not positive")
        policies.append(
            PolicyRow(network_id, incomplete, minutes, _cutoff(row), _zone(row, "timezone"))
        )
    return tuple(policies)


_Text = TypeVar("_Text", bound=enum.StrEnum)


def _text_enum(row: Row, column: str, kind: type[_Text]) -> _Text:
    """A required cell that must be one of the enumeration's values."""
    text = row.required(column)
    try:
        return kind(text)
    except ValueError:
        allowed = " or ".join(member.value for member in kind)
        raise row.error(f'{column} "{text}" is not {allowed}') from None


def _cutoff(row: Row) -> time | None:
    text = row.get("service_day_cutoff")
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise row.error(f'service_day_cutoff "{text}" is not a time (HH:MM)') from None
