"""Tap pairing: metro entries with exits, bus boardings, incomplete and orphan taps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ticketing.fares import FareFeed, load_feed
from ticketing.fares.journeys import build_journeys, canonical_taps, journeys_by_service_day
from ticketing.service_day import service_day
from ticketing.taps import Tap, TapKind

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TapMaker = Callable[..., Tap]

E, X, B, A = TapKind.ENTRY, TapKind.EXIT, TapKind.BOARD, TapKind.ALIGHT


def test_entry_and_exit_pair_into_one_journey(minicity: FareFeed, tap: TapMaker) -> None:
    taps = [tap(E, "M1", "M_A", "2025-09-01 08:00"), tap(X, "M1", "M_C", "2025-09-01 08:20")]
    [journey] = build_journeys(taps, minicity)
    assert (journey.from_stop_id, journey.to_stop_id) == ("M_A", "M_C")
    assert journey.journey_id == f"{taps[0].device_id}:{taps[0].device_seq}"
    assert journey.arrival == taps[1].at
    assert not journey.incomplete
    assert journey.tap_keys == (taps[0].key, taps[1].key)


def test_missing_exit_leaves_an_incomplete_journey(minicity: FareFeed, tap: TapMaker) -> None:
    taps = [
        tap(E, "M1", "M_A", "2025-09-01 08:00"),
        tap(E, "M1", "M_B", "2025-09-01 09:00"),
        tap(X, "M1", "M_C", "2025-09-01 09:20"),
    ]
    first, second = build_journeys(taps, minicity)
    assert first.incomplete
    assert first.to_stop_id is None
    assert first.arrival is None
    assert not second.incomplete
    assert second.to_stop_id == "M_C"


def test_exit_after_the_policy_limit_is_incomplete(minicity: FareFeed, tap: TapMaker) -> None:
    taps = [tap(E, "M1", "M_A", "2025-09-01 08:00"), tap(X, "M1", "M_B", "2025-09-01 11:01")]
    [journey] = build_journeys(taps, minicity)
    assert journey.incomplete
    assert journey.to_stop_id == "M_B"


def test_exit_without_entry_is_an_incomplete_journey_of_its_own(
    minicity: FareFeed, tap: TapMaker
) -> None:
    [journey] = build_journeys([tap(X, "M1", "M_C", "2025-09-01 08:00")], minicity)
    assert journey.incomplete
    assert journey.from_stop_id is None
    assert journey.to_stop_id == "M_C"


def test_bus_board_and_alight(minicity: FareFeed, tap: TapMaker) -> None:
    taps = [
        tap(B, "B1", "S1", "2025-09-01 08:00"),
        tap(B, "B2", "S2", "2025-09-01 08:30"),
        tap(A, "B2", "S3", "2025-09-01 08:50"),
        tap(A, "B9", "S3", "2025-09-01 09:00"),  # nothing to end: dropped
    ]
    first, second = build_journeys(taps, minicity)
    assert (first.route_id, first.to_stop_id, first.incomplete) == ("B1", None, False)
    assert (second.route_id, second.to_stop_id) == ("B2", "S3")


def test_reuploaded_taps_count_once(minicity: FareFeed, tap: TapMaker) -> None:
    entry = tap(E, "M1", "M_A", "2025-09-01 08:00")
    exit_ = tap(X, "M1", "M_B", "2025-09-01 08:20")
    assert canonical_taps([exit_, entry, exit_, entry]) == [entry, exit_]
    assert len(build_journeys([entry, exit_, entry], minicity)) == 1


def test_accounts_are_paired_separately(minicity: FareFeed, tap: TapMaker) -> None:
    taps = [
        tap(E, "M1", "M_A", "2025-09-01 08:00", account="a"),
        tap(E, "M1", "M_B", "2025-09-01 08:01", account="b"),
        tap(X, "M1", "M_C", "2025-09-01 08:20", account="a"),
        tap(X, "M1", "M_A", "2025-09-01 08:21", account="b"),
    ]
    journeys = build_journeys(taps, minicity)
    assert {(j.account_id, j.from_stop_id, j.to_stop_id, j.incomplete) for j in journeys} == {
        ("a", "M_A", "M_C", False),
        ("b", "M_B", "M_A", False),
    }


def test_service_day_cut_off_is_four_in_the_morning(local: Callable[[str], datetime]) -> None:
    assert service_day(local("2025-09-02 03:59"), timezone=HANOI) == date(2025, 9, 1)
    assert service_day(local("2025-09-02 04:00"), timezone=HANOI) == date(2025, 9, 2)


def test_a_journey_across_the_cut_off_stays_on_its_first_day(
    minicity: FareFeed, tap: TapMaker
) -> None:
    taps = [tap(E, "M1", "M_A", "2025-09-02 03:50"), tap(X, "M1", "M_B", "2025-09-02 04:10")]
    days = journeys_by_service_day(build_journeys(taps, minicity), minicity)
    assert list(days) == [date(2025, 9, 1)]


def test_bus_routes_of_no_network_are_not_the_same_line(
    feed_dir: Callable[..., Path], tap: TapMaker
) -> None:
    # Without route_networks.txt, B1 and B2 belong to no network: an alight on B2 must not end
    # a ride begun on B1 (it used to: None == None), while an alight on B1 does.
    feed = load_feed(feed_dir(route_networks=None))
    assert feed.network_of("B1") is None
    assert feed.network_of("B2") is None
    other_route = [tap(B, "B1", "S1", "2025-09-01 08:00"), tap(A, "B2", "S3", "2025-09-01 08:20")]
    [ride] = build_journeys(other_route, feed)
    assert (ride.route_id, ride.to_stop_id) == ("B1", None)
    same_route = [tap(B, "B1", "S1", "2025-09-01 09:00"), tap(A, "B1", "S3", "2025-09-01 09:20")]
    [ride] = build_journeys(same_route, feed)
    assert (ride.from_stop_id, ride.to_stop_id) == ("S1", "S3")


def test_gates_of_no_network_close_entries_of_the_same_operator_only(
    feed_dir: Callable[..., Path], tap: TapMaker
) -> None:
    feed = load_feed(feed_dir(route_networks=None))
    # M1 (metro_co) and B1 (bus_co): different agencies, so an exit on one does not close an
    # entry on the other; it is an exit of unknown origin.
    taps = [tap(E, "M1", "M_A", "2025-09-01 08:00"), tap(X, "B1", "M_C", "2025-09-01 08:20")]
    first, second = build_journeys(taps, feed)
    assert (first.route_id, first.to_stop_id, first.incomplete) == ("M1", None, True)
    assert (second.route_id, second.from_stop_id, second.incomplete) == ("B1", None, True)
    # B1 and B2 share an agency (bus_co): a gate exit on B2 closes a gate entry on B1.
    taps = [tap(E, "B1", "S1", "2025-09-01 09:00"), tap(X, "B2", "S3", "2025-09-01 09:20")]
    [ride] = build_journeys(taps, feed)
    assert (ride.route_id, ride.from_stop_id, ride.to_stop_id, ride.incomplete) == (
        "B1",
        "S1",
        "S3",
        False,
    )


def test_caltrain_exit_from_a_limited_closes_an_entry_onto_a_bullet(
    caltrain: Path, tap: TapMaker
) -> None:
    feed = load_feed(caltrain)
    assert feed.network_of("ct_bullet") is None
    taps = [
        tap(E, "ct_bullet", "Millbrae Caltrain", "2025-09-01 08:00"),
        tap(X, "ct_limited", "Mountain View Caltrain", "2025-09-01 08:40"),
    ]
    [ride] = build_journeys(taps, feed)
    assert (ride.from_stop_id, ride.to_stop_id, ride.incomplete) == (
        "Millbrae Caltrain",
        "Mountain View Caltrain",
        False,
    )
    # On board, a bullet's validator does not end a ride begun on a local.
    boards = [
        tap(B, "ct_local", "Millbrae Caltrain", "2025-09-01 10:00"),
        tap(A, "ct_bullet", "Mountain View Caltrain", "2025-09-01 10:40"),
    ]
    [ride] = build_journeys(boards, feed)
    assert (ride.route_id, ride.to_stop_id) == ("ct_local", None)
