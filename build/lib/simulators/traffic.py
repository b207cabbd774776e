"""Seeded passenger traffic for a simulated service day: who travels, where, and when they tap."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from simulators.network import SimRoute

TapAction = Literal["entry", "exit", "board"]

# Minutes between consecutive metro stations, for exit times (Hanoi's 2A averages ~2 min).
# Buses need none: a bus rider taps only when boarding.
METRO_MINUTES_PER_STOP = 2.0
# Morning and evening peaks carry most trips; a minority travel at midday.
PEAKS = ((7, 30, 50), (17, 30, 55), (12, 0, 120))  # (hour, minute, spread in minutes)


@dataclass(frozen=True, slots=True)
class SimPassenger:
    credential_id: int
    home_route: str


@dataclass(frozen=True, slots=True)
class Presentation:
    """A passenger showing their phone at a device at a moment."""

    passenger: SimPassenger
    device_id: str
    route_id: str
    stop_id: str
    action: TapAction
    at: datetime


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    trips_per_passenger: tuple[int, int] = (2, 4)
    missing_tap_out_rate: float = 0.03


def device_for(route: SimRoute, stop_id: str, action: TapAction, rng: random.Random) -> str:
    """Metro stations have banks of entry and exit gates; each bus has its own validator."""
    if route.is_metro:
        direction = "in" if action == "entry" else "out"
        return f"gate-{stop_id}-{direction}{rng.randrange(1, 4)}"
    return f"bus-{route.route_id}-{rng.randrange(1, 6):02d}"


def plan_day(
    passengers: Sequence[SimPassenger],
    routes: Sequence[SimRoute],
    day_start: datetime,
    *,
    seed: int,
    profile: TrafficProfile = TrafficProfile(),
) -> list[Presentation]:
    """Every presentation of the day, in time order; deterministic for one seed."""
    rng = random.Random(seed)
    by_id = {route.route_id: route for route in routes}
    midnight = day_start.replace(hour=0, minute=0, second=0, microsecond=0)
    plan: list[Presentation] = []
    for passenger in passengers:
        trips = rng.randint(*profile.trips_per_passenger)
        for trip in range(trips):
            route = by_id[passenger.home_route] if trip < 2 else rng.choice(routes)
            hour, minute, spread = PEAKS[min(trip, 2)]
            start = midnight + timedelta(
                hours=hour, minutes=minute + rng.gauss(0, spread / 2), seconds=rng.randrange(60)
            )
            board, alight = rng.sample(range(len(route.stops)), 2)
            if trip == 1:  # the way home mirrors the way out
                board, alight = alight, board
            plan.extend(_trip(passenger, route, board, alight, start, rng, profile))
    plan.sort(key=lambda p: (p.at, p.device_id))
    return plan


def _trip(
    passenger: SimPassenger,
    route: SimRoute,
    board: int,
    alight: int,
    start: datetime,
    rng: random.Random,
    profile: TrafficProfile,
) -> list[Presentation]:
    origin = route.stops[board]
    if not route.is_metro:
        device = device_for(route, origin, "board", rng)
        return [Presentation(passenger, device, route.route_id, origin, "board", start)]
    entry = Presentation(
        passenger, device_for(route, origin, "entry", rng), route.route_id, origin, "entry", start
    )
    if rng.random() < profile.missing_tap_out_rate:
        return [entry]
    ride = timedelta(minutes=abs(alight - board) * METRO_MINUTES_PER_STOP + rng.uniform(2, 6))
    destination = route.stops[alight]
    exit_ = Presentation(
        passenger,
        device_for(route, destination, "exit", rng),
        route.route_id,
        destination,
        "exit",
        start + ride,
    )
    return [entry, exit_]
