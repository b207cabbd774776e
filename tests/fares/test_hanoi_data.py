"""The shipped Hanoi feed (data/hanoi): its files hang together, and it prices as DESIGN §3 says."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from faregate_data import HANOI_FEED
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.fares.passes import HeldPass, pass_validity
from ticketing.fares.pricing import DayPrice, QuoteLeg, price_day, quote
from ticketing.gtfs import GtfsFeed, read_feed
from ticketing.money import Money
from ticketing.taps import Tap, TapKind

FEED_DIR = HANOI_FEED
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
FREE_CATEGORIES = ("child_under_6", "senior_60_plus", "disability", "meritorious", "poor_household")
M2A_STATIONS = [f"m2a_{n:02d}" for n in range(1, 13)]
M3_STATIONS = [f"m3_s{n}" for n in range(1, 9)]
# A Wednesday morning; rides are spaced from here.
MORNING = datetime(2025, 3, 12, 7, 30, tzinfo=HANOI)


def vnd(amount: int) -> Money:
    return Money(amount, "VND")


def rows(name: str) -> list[dict[str, str]]:
    with (FEED_DIR / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def gtfs() -> GtfsFeed:
    return read_feed(FEED_DIR)


@pytest.fixture(scope="module")
def feed() -> FareFeed:
    return load_feed(FEED_DIR)


def ride(route_id: str, origin: str, destination: str, at: datetime) -> QuoteLeg:
    return QuoteLeg(route_id, origin, destination, at, at + timedelta(minutes=25))


def metro_taps(trips: Sequence[tuple[str, str, datetime]], route_id: str = "m2a") -> list[Tap]:
    """Gate taps of one account: ENTRY at the origin, EXIT 25 minutes later at the destination."""

    def taps() -> Iterator[Tap]:
        for n, (origin, destination, at) in enumerate(trips):
            yield Tap(f"gate-{origin}", n, 1, "acct-1", at, route_id, origin, TapKind.ENTRY)
            yield Tap(
                f"gate-{destination}",
                n,
                1,
                "acct-1",
                at + timedelta(minutes=25),
                route_id,
                destination,
                TapKind.EXIT,
            )

    return list(taps())


# --- the files hang together -------------------------------------------------------------


def test_generated_files_are_up_to_date() -> None:
    script = FEED_DIR / "build_fare_rules.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_every_stop_is_in_an_area(gtfs: GtfsFeed) -> None:
    assert set(gtfs.stops) == set(gtfs.stop_areas)
    assert all(gtfs.stop_areas[stop_id] for stop_id in gtfs.stops)


def test_every_route_is_in_a_network(gtfs: GtfsFeed) -> None:
    assert all(route.network_id in gtfs.networks for route in gtfs.routes.values())


def test_every_referenced_product_exists(gtfs: GtfsFeed) -> None:
    products = {p.fare_product_id for p in gtfs.fare_products}
    referenced = {rule.fare_product_id for rule in gtfs.fare_leg_rules}
    referenced |= {coverage.fare_product_id for coverage in gtfs.passes}
    referenced |= {r.fare_product_id for r in gtfs.fare_transfer_rules if r.fare_product_id}
    assert referenced <= products


def test_every_amount_is_an_integer_number_of_dong() -> None:
    amounts = [row["amount"] for row in rows("fare_products.txt")]
    amounts += [row["amount"] for row in rows("faregate_caps.txt")]
    assert amounts
    assert all(re.fullmatch(r"\d+", amount) for amount in amounts)
    assert {row["currency"] for row in rows("fare_products.txt")} == {"VND"}


def test_single_fares_have_a_row_per_category_and_free_categories_pay_nothing(
    gtfs: GtfsFeed,
) -> None:
    leg_products = {rule.fare_product_id for rule in gtfs.fare_leg_rules}
    for product_id in leg_products:
        by_category = {
            p.rider_category_id: p.amount
            for p in gtfs.fare_products
            if p.fare_product_id == product_id
        }
        assert set(by_category) == set(gtfs.rider_categories), product_id
        for category, amount in by_category.items():
            if category in FREE_CATEGORIES:
                assert amount == vnd(0), (product_id, category)
            else:
                assert amount.amount >= 8_000, (product_id, category)


@pytest.mark.parametrize(
    ("network_id", "stations", "lowest", "highest"),
    [("m2a", M2A_STATIONS, 8_000, 15_000), ("m3", M3_STATIONS, 8_000, 12_000)],
)
def test_metro_has_one_rule_per_station_pair_rising_with_distance(
    gtfs: GtfsFeed, network_id: str, stations: list[str], lowest: int, highest: int
) -> None:
    regular = {
        p.fare_product_id: p.amount.amount
        for p in gtfs.fare_products
        if p.rider_category_id == "regular"
    }
    fares: dict[tuple[str, str], int] = {}
    for rule in gtfs.fare_leg_rules:
        if rule.network_id == network_id:
            pair = (str(rule.from_area_id), str(rule.to_area_id))
            assert pair not in fares, pair
            fares[pair] = regular[rule.fare_product_id]
    areas = [f"a_{station}" for station in stations]
    assert set(fares) == {(a, b) for a in areas for b in areas}
    from_first = [fares[(areas[0], area)] for area in areas[1:]]
    assert from_first == sorted(from_first)
    assert from_first[0] == lowest
    assert from_first[-1] == highest
    assert all(lowest <= fare <= highest for fare in fares.values())
    assert all(fares[(a, b)] == fares[(b, a)] for a, b in fares)


def test_caps_are_the_pass_prices(gtfs: GtfsFeed) -> None:
    price = {p.fare_product_id: p.amount for p in gtfs.fare_products}
    caps = {cap.cap_id: cap.amount for cap in gtfs.caps}
    assert caps["m2a_day_cap"] == price["m2a_day"] == vnd(30_000)
    assert caps["m3_day_cap"] == price["m3_day"] == vnd(24_000)
    assert caps["m2a_month_cap"] == price["m2a_month"] == vnd(200_000)
    assert caps["m2a_month_cap_priority"] == price["m2a_month_priority"] == vnd(100_000)
    assert caps["m3_month_cap"] == price["m3_month"] == vnd(200_000)
    assert caps["m3_month_cap_priority"] == price["m3_month_priority"] == vnd(100_000)


def test_bus_pass_prices(gtfs: GtfsFeed) -> None:
    price = {p.fare_product_id: p.amount.amount for p in gtfs.fare_products}
    assert price["bus_month_all"] == 280_000
    assert price["bus_month_all_priority"] == 140_000
    bus_routes = [
        r for r, route in gtfs.routes.items() if (route.network_id or "").startswith("bus_")
    ]
    assert len(bus_routes) == 6
    for route_id in bus_routes:
        assert price[f"bus_month_{route_id}"] == 140_000
        assert price[f"bus_month_{route_id}_priority"] == 70_000


# --- it prices as published --------------------------------------------------------------


@pytest.mark.parametrize(("origin", "destination"), [("m2a_01", "m2a_12"), ("m2a_12", "m2a_01")])
def test_metro_2a_end_to_end_costs_15000(feed: FareFeed, origin: str, destination: str) -> None:
    assert quote(feed, [ride("m2a", origin, destination, MORNING)]).total == vnd(15_000)


def test_metro_2a_end_to_end_from_gate_taps_costs_15000(feed: FareFeed) -> None:
    day = price_day(feed, metro_taps([("m2a_01", "m2a_12", MORNING)]))
    assert day.total == vnd(15_000)
    assert [leg.fare_product_id for leg in day.legs] == ["m2a_15000"]


def test_metro_2a_one_station_costs_8000(feed: FareFeed) -> None:
    assert quote(feed, [ride("m2a", "m2a_05", "m2a_06", MORNING)]).total == vnd(8_000)


def test_metro_3_fares_run_from_8000_to_12000(feed: FareFeed) -> None:
    assert quote(feed, [ride("m3", "m3_s1", "m3_s2", MORNING)]).total == vnd(8_000)
    assert quote(feed, [ride("m3", "m3_s1", "m3_s8", MORNING)]).total == vnd(12_000)


def test_five_metro_2a_rides_in_a_day_cost_no_more_than_the_day_cap(feed: FareFeed) -> None:
    trips = [
        (
            M2A_STATIONS[0] if n % 2 == 0 else M2A_STATIONS[-1],
            M2A_STATIONS[-1] if n % 2 == 0 else M2A_STATIONS[0],
            MORNING + timedelta(hours=2 * n),
        )
        for n in range(5)
    ]
    day = price_day(feed, metro_taps(trips))
    assert sum(leg.undiscounted.amount for leg in day.legs) == 5 * 15_000
    assert day.total == vnd(30_000)
    assert [cap.cap_id for cap in day.caps_applied] == ["m2a_day_cap"]


def test_metro_3_day_cap_is_24000(feed: FareFeed) -> None:
    legs = [ride("m3", "m3_s1", "m3_s8", MORNING + timedelta(hours=n)) for n in range(3)]
    assert quote(feed, legs).total == vnd(24_000)


def test_rides_after_midnight_count_towards_the_previous_service_day(feed: FareFeed) -> None:
    late = datetime(2025, 3, 12, 22, 0, tzinfo=HANOI)
    trips = [
        ("m2a_01", "m2a_12", late),
        ("m2a_12", "m2a_01", late + timedelta(hours=2)),  # 00:00, same service day
        ("m2a_01", "m2a_12", late + timedelta(hours=4, minutes=30)),  # 02:30, still before 04:00
    ]
    assert price_day(feed, metro_taps(trips)).total == vnd(30_000)


def test_month_cap_limits_what_is_left_of_the_month(feed: FareFeed) -> None:
    day = quote(
        feed,
        [ride("m2a", "m2a_01", "m2a_12", MORNING)],
        month_to_date={"m2a_month_cap": vnd(195_000)},
    )
    assert day.total == vnd(5_000)


@pytest.mark.parametrize(
    ("route_id", "origin", "destination", "fare"),
    [
        ("brt01", "bx_kim_ma", "bx_yen_nghia", 8_000),  # 14.7 km
        ("bus32", "bx_giap_bat", "bus_nhon", 10_000),
        ("bus66", "bx_yen_nghia", "bus_phung", 12_000),  # 27.3 km
        ("bus67", "bus_phung", "bx_son_tay", 12_000),  # 27 km
        ("bus115", "bus_van_dinh", "bus_xuan_mai", 15_000),  # 38.2 km
        ("bus89", "bx_yen_nghia", "bx_son_tay", 20_000),
    ],
)
def test_bus_fare_is_set_by_route_length(
    feed: FareFeed, route_id: str, origin: str, destination: str, fare: int
) -> None:
    assert quote(feed, [ride(route_id, origin, destination, MORNING)]).total == vnd(fare)


def test_a_bus_route_under_15_km_costs_8000_on_tap_on_alone(feed: FareFeed) -> None:
    board = Tap("bus-brt01-07", 1, 1, "acct-1", MORNING, "brt01", "brt_giang_vo", TapKind.BOARD)
    day = price_day(feed, [board])
    assert day.total == vnd(8_000)
    assert [leg.fare_product_id for leg in day.legs] == ["bus_8000"]


@pytest.mark.parametrize("category", FREE_CATEGORIES)
def test_free_rider_categories_pay_nothing(feed: FareFeed, category: str) -> None:
    legs = [
        ride("m2a", "m2a_01", "m2a_12", MORNING),
        ride("m3", "m3_s1", "m3_s8", MORNING + timedelta(hours=1)),
        ride("bus89", "bx_yen_nghia", "bx_son_tay", MORNING + timedelta(hours=2)),
    ]
    day = quote(feed, legs, rider_category=category)
    assert day.total == vnd(0)
    assert all(leg.charged == vnd(0) for leg in day.legs)


def test_priority_riders_pay_the_regular_single_fare(feed: FareFeed) -> None:
    # Hanoi's priority discount is on monthly passes only.
    day = quote(feed, [ride("m2a", "m2a_01", "m2a_12", MORNING)], rider_category="priority")
    assert day.total == vnd(15_000)


def held(feed: FareFeed, product_id: str) -> HeldPass:
    return pass_validity(feed, product_id, datetime(2025, 3, 1, 9, 0, tzinfo=HANOI))


def test_monthly_metro_pass_holder_pays_nothing_on_the_line(feed: FareFeed) -> None:
    legs = [
        ride("m2a", "m2a_01", "m2a_12", MORNING),
        ride("brt01", "bx_yen_nghia", "bx_kim_ma", MORNING + timedelta(hours=1)),
    ]
    day = quote(feed, legs, passes=[held(feed, "m2a_month")])
    metro, bus = day.legs
    assert metro.charged == vnd(0)
    assert metro.pass_covered
    assert metro.undiscounted == vnd(15_000)
    assert bus.charged == vnd(8_000)
    assert day.total == vnd(8_000)


def test_monthly_pass_does_not_cover_rides_after_it_expires(feed: FareFeed) -> None:
    april = datetime(2025, 4, 2, 7, 30, tzinfo=HANOI)
    day = quote(feed, [ride("m2a", "m2a_01", "m2a_12", april)], passes=[held(feed, "m2a_month")])
    assert day.total == vnd(15_000)


def test_one_route_bus_pass_covers_only_its_route(feed: FareFeed) -> None:
    legs = [
        ride("bus66", "bx_yen_nghia", "bus_phung", MORNING),
        ride("bus67", "bus_phung", "bx_son_tay", MORNING + timedelta(hours=1)),
    ]
    day = quote(feed, legs, passes=[held(feed, "bus_month_bus66")])
    assert [leg.charged for leg in day.legs] == [vnd(0), vnd(12_000)]


def test_all_routes_bus_pass_covers_every_bus_route_but_not_the_metro(feed: FareFeed) -> None:
    bus_rides = [
        ("brt01", "bx_kim_ma", "bx_yen_nghia"),
        ("bus32", "bx_giap_bat", "bus_nhon"),
        ("bus66", "bx_yen_nghia", "bus_phung"),
        ("bus115", "bus_van_dinh", "bus_xuan_mai"),
        ("bus89", "bx_yen_nghia", "bx_son_tay"),
    ]
    legs = [ride(r, a, b, MORNING + timedelta(hours=n)) for n, (r, a, b) in enumerate(bus_rides)]
    legs.append(ride("m3", "m3_s1", "m3_s8", MORNING + timedelta(hours=6)))
    day = quote(feed, legs, passes=[held(feed, "bus_month_all")])
    assert [leg.charged.amount for leg in day.legs] == [0, 0, 0, 0, 0, 12_000]


def test_priority_bus_pass_covers_a_priority_rider(feed: FareFeed) -> None:
    day = quote(
        feed,
        [ride("bus115", "bus_van_dinh", "bus_xuan_mai", MORNING)],
        rider_category="priority",
        passes=[held(feed, "bus_month_all_priority")],
    )
    assert day.total == vnd(0)


def test_a_tap_in_without_tap_out_is_charged_the_maximum_fare(feed: FareFeed) -> None:
    entry = Tap("gate-m2a_01", 1, 1, "acct-1", MORNING, "m2a", "m2a_01", TapKind.ENTRY)
    day: DayPrice = price_day(feed, [entry])
    assert day.total == vnd(15_000)
    assert day.legs[0].incomplete
