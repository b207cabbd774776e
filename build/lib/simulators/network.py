"""The parts of a GTFS feed a simulated device or passenger needs: each route's stops in order."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

METRO_ROUTE_TYPES = frozenset({1, 2, 12})


@dataclass(frozen=True, slots=True)
class SimRoute:
    route_id: str
    stops: tuple[str, ...]
    is_metro: bool


def load_routes(feed_dir: Path) -> tuple[SimRoute, ...]:
    """Routes with their stops in travel order, taken from each route's first direction-0 trip."""
    with (feed_dir / "routes.txt").open(encoding="utf-8-sig", newline="") as f:
        route_types = {row["route_id"]: int(row["route_type"]) for row in csv.DictReader(f)}
    with (feed_dir / "trips.txt").open(encoding="utf-8-sig", newline="") as f:
        first_trip: dict[str, str] = {}
        for row in csv.DictReader(f):
            if row.get("direction_id", "0") in ("", "0"):
                first_trip.setdefault(row["route_id"], row["trip_id"])
    wanted = {trip: route for route, trip in first_trip.items()}
    stops: dict[str, list[tuple[int, str]]] = {route: [] for route in first_trip}
    with (feed_dir / "stop_times.txt").open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            route = wanted.get(row["trip_id"])
            if route is not None:
                stops[route].append((int(row["stop_sequence"]), row["stop_id"]))
    return tuple(
        SimRoute(
            route,
            tuple(stop for _, stop in sorted(stops[route])),
            route_types[route] in METRO_ROUTE_TYPES,
        )
        for route in sorted(first_trip)
        if len(stops[route]) >= 2
    )
