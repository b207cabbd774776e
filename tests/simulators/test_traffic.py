"""The simulated day is deterministic per seed and shaped like real taps."""

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from faregate_data import HANOI_FEED
from simulators.network import load_routes
from simulators.traffic import SimPassenger, TrafficProfile, plan_day

FEED = HANOI_FEED
START = datetime(2026, 11, 24, 6, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def _passengers(n: int) -> list[SimPassenger]:
    routes = [r.route_id for r in load_routes(FEED)]
    return [SimPassenger(1000 + i, routes[i % len(routes)]) for i in range(n)]


def test_same_seed_same_day_and_different_seed_differs() -> None:
    routes = load_routes(FEED)
    one = plan_day(_passengers(50), routes, START, seed=7)
    assert one == plan_day(_passengers(50), routes, START, seed=7)
    assert one != plan_day(_passengers(50), routes, START, seed=8)


def test_metro_exits_follow_entries_and_buses_only_board() -> None:
    routes = {r.route_id: r for r in load_routes(FEED)}
    plan = plan_day(_passengers(200), list(routes.values()), START, seed=1)
    assert plan == sorted(plan, key=lambda p: (p.at, p.device_id))
    for p in plan:
        assert p.stop_id in routes[p.route_id].stops
        assert (p.action == "board") == (not routes[p.route_id].is_metro)
        assert p.at.tzinfo is not None
    # Trips of one passenger may overlap in time, so exits are matched by count, not pairwise.
    open_entries: Counter[tuple[int, str]] = Counter()
    for p in plan:
        key = (p.passenger.credential_id, p.route_id)
        if p.action == "entry":
            open_entries[key] += 1
        elif p.action == "exit":
            assert open_entries[key] > 0, f"exit without an earlier entry: {p}"
            open_entries[key] -= 1


def test_missing_tap_outs_happen_at_the_configured_rate() -> None:
    routes = [r for r in load_routes(FEED) if r.is_metro]
    passengers = [SimPassenger(i, routes[i % 2].route_id) for i in range(2000)]
    never = plan_day(
        passengers, routes, START, seed=3, profile=TrafficProfile(missing_tap_out_rate=0)
    )
    entries = sum(p.action == "entry" for p in never)
    assert entries == sum(p.action == "exit" for p in never)
    always = plan_day(
        passengers, routes, START, seed=3, profile=TrafficProfile(missing_tap_out_rate=1)
    )
    assert not any(p.action == "exit" for p in always)
