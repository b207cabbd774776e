"""Fares v1 as the GTFS reference publishes it: route-based fares, zones (origin, destination,
contains_id), transfers and transfer_duration, and the cheapest cover of a day's legs.

Each fixture feed under tests/fixtures/v1_* quotes the reference text it is built from.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ticketing.fares import DayPrice, FareFeed, QuoteLeg, load_feed, quote
from ticketing.gtfs import FeedError
from ticketing.gtfs.errors import FeedWarning

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NEW_YORK = ZoneInfo("America/New_York")
TORONTO = ZoneInfo("America/Toronto")
# (route, from stop, to stop, minutes after 08:00)
Leg = tuple[str, str, str, int]


@pytest.fixture(scope="module")
def routes() -> FareFeed:
    return load_feed(FIXTURES / "v1_routes")


@pytest.fixture(scope="module")
def zones() -> FareFeed:
    return load_feed(FIXTURES / "v1_zones")


@pytest.fixture(scope="module")
def contains() -> FareFeed:
    return load_feed(FIXTURES / "v1_contains")


def day_of(feed: FareFeed, legs: list[Leg], zone: ZoneInfo = NEW_YORK) -> DayPrice:
    start = datetime(2025, 9, 1, 8, 0, tzinfo=zone)
    return quote(
        feed,
        [
            QuoteLeg(route, origin, destination, start + timedelta(minutes=minutes))
            for route, origin, destination, minutes in legs
        ],
    )


def cents(feed: FareFeed, legs: list[Leg], zone: ZoneInfo = NEW_YORK) -> int:
    return day_of(feed, legs, zone).total.amount


# -- route_id and transfers -------------------------------------------------------------------


def test_fare_b_is_valid_on_tsw_and_tse(routes: FareFeed) -> None:
    for route in ("TSW", "TSE"):
        [leg] = day_of(routes, [(route, "s1", "s2", 0)]).legs
        assert (leg.fare_product_id, leg.charged.amount) == ("b", 200)
    [express] = day_of(routes, [("EXP", "s1", "s2", 0)]).legs
    assert (express.fare_product_id, express.charged.amount) == ("x", 400)


def test_one_transfer_covers_the_next_leg_on_the_fares_routes(routes: FareFeed) -> None:
    day = day_of(routes, [("TSW", "s1", "s2", 0), ("TSE", "s2", "s3", 30)])
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("b", 200),
        ("b", 0),
    ]
    assert [leg.transfer_product_id for leg in day.legs] == [None, "b"]
    # Each leg keeps its own stand-alone fare as the basis for apportioning revenue.
    assert [leg.undiscounted.amount for leg in day.legs] == [200, 200]
    assert day.total.amount == 200


def test_transfers_1_allows_one_transfer_only(routes: FareFeed) -> None:
    legs = [("TSW", "s1", "s2", 0), ("TSE", "s2", "s3", 20), ("TSW", "s3", "s1", 40)]
    assert cents(routes, legs) == 400


def test_transfers_2_allows_two(routes: FareFeed) -> None:
    three = [("LOOP", "s1", "s2", minutes) for minutes in (0, 20, 40)]
    assert cents(routes, three) == 100
    assert cents(routes, [*three, ("LOOP", "s2", "s3", 60)]) == 200


def test_transfers_0_allows_none(routes: FareFeed) -> None:
    assert cents(routes, [("EXP", "s1", "s2", 0), ("EXP", "s2", "s3", 10)]) == 800


def test_transfer_duration_counts_from_the_first_departure(routes: FareFeed) -> None:
    # b: transfer_duration 3600 s. The last boarding 60 minutes after the first still counts.
    assert cents(routes, [("TSW", "s1", "s2", 0), ("TSE", "s2", "s3", 60)]) == 200
    assert cents(routes, [("TSW", "s1", "s2", 0), ("TSE", "s2", "s3", 61)]) == 400


def test_empty_transfers_is_unlimited_within_the_journey_time(routes: FareFeed) -> None:
    # shuttle: transfers and transfer_duration empty; the 180-minute journey policy bounds it.
    rides = [("SHUTTLE", "s1", "s2", minutes) for minutes in (0, 30, 60, 120, 180)]
    assert cents(routes, rides) == 50
    assert cents(routes, [*rides, ("SHUTTLE", "s2", "s1", 181)]) == 100


def test_a_fare_covers_only_routes_in_its_rules(routes: FareFeed) -> None:
    assert cents(routes, [("TSW", "s1", "s2", 0), ("EXP", "s2", "s3", 10)]) == 600
    # A run is consecutive legs (as in OpenTripPlanner): an express leg between two b legs
    # ends the first b run.
    legs = [("TSW", "s1", "s2", 0), ("EXP", "s2", "s3", 10), ("TSE", "s3", "s1", 20)]
    assert cents(routes, legs) == 800


# -- origin_id and destination_id -------------------------------------------------------------


@pytest.mark.parametrize("origin", ["z2", "z8"])
@pytest.mark.parametrize("destination", ["z1", "z5", "z8"])
def test_fare_b_is_valid_for_travel_from_zone_2_or_8(
    zones: FareFeed, origin: str, destination: str
) -> None:
    [leg] = day_of(zones, [("R", origin, destination, 0)]).legs
    assert (leg.fare_product_id, leg.charged.amount) == ("b", 125)


@pytest.mark.parametrize("destination", ["z4", "z5"])
def test_fare_b35_is_valid_between_zones_3_and_4_and_3_and_5(
    zones: FareFeed, destination: str
) -> None:
    [leg] = day_of(zones, [("R", "z3", destination, 0)]).legs
    assert (leg.fare_product_id, leg.charged.amount) == ("b35", 250)


@pytest.mark.parametrize(("origin", "destination"), [("z3", "z6"), ("z4", "z3"), ("z1", "z2")])
def test_travel_no_rule_names_is_unpriced(zones: FareFeed, origin: str, destination: str) -> None:
    day = day_of(zones, [("R", origin, destination, 0)])
    [unpriced] = day.unpriced_legs
    assert unpriced.reason == f'no fare on route "R" from "{origin}" to "{destination}"'
    assert day.total.amount == 0


def test_a_run_takes_its_first_origin_and_last_destination(zones: FareFeed) -> None:
    # 3 -> 4 then 4 -> 5: no fare covers 4 -> 5 alone, but b35 covers the run 3 -> 5 with one
    # transfer within two hours.
    day = day_of(zones, [("R", "z3", "z4", 0), ("R", "z4", "z5", 30)])
    assert day.unpriced_legs == ()
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("b35", 250),
        ("b35", 0),
    ]
    # Too late for the transfer: the second leg stands alone, and nothing covers it.
    late = day_of(zones, [("R", "z3", "z4", 0), ("R", "z4", "z5", 121)])
    assert late.total.amount == 250
    assert [u.index for u in late.unpriced_legs] == [1]


def test_zone_fare_without_transfers_covers_one_leg(zones: FareFeed) -> None:
    # b has transfers 0: its rules match the run 2 -> 8 (origin 2), but not with a transfer, so
    # the second leg (from zone 5, which no rule names) stays unpriced.
    day = day_of(zones, [("R", "z2", "z5", 0), ("R", "z5", "z8", 10)])
    assert day.total.amount == 125
    assert [u.index for u in day.unpriced_legs] == [1]
    assert cents(zones, [("R", "z2", "z5", 0), ("R", "z8", "z1", 10)]) == 250


# -- contains_id ----------------------------------------------------------------------------


@pytest.mark.parametrize(("origin", "destination"), [("g5", "g7"), ("g7", "g5")])
def test_fare_c_covers_travel_passing_through_zones_5_6_and_7(
    contains: FareFeed, origin: str, destination: str
) -> None:
    # The trips call at g6 between g5 and g7: the ride passes through zone 6.
    [leg] = day_of(contains, [("GRT", origin, destination, 0)], TORONTO).legs
    assert (leg.fare_product_id, leg.charged.amount) == ("c", 300)


def test_passing_through_5_and_6_but_not_7_is_not_fare_c(contains: FareFeed) -> None:
    [leg] = day_of(contains, [("GRT", "g5", "g6", 0)], TORONTO).legs
    assert (leg.fare_product_id, leg.charged.amount) == ("c56", 200)
    [unpriced] = day_of(contains, [("GRT", "g6", "g7", 0)], TORONTO).unpriced_legs
    assert unpriced.reason.startswith("no fare")


def test_a_run_visits_every_zone_of_its_legs(contains: FareFeed) -> None:
    # 5 -> 6 then 6 -> 7 within the hour: the run passes through 5, 6 and 7, so c covers both
    # legs (leaving the second unpriced would be cheaper, and is never chosen).
    day = day_of(contains, [("GRT", "g5", "g6", 0), ("GRT", "g6", "g7", 20)], TORONTO)
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("c", 300),
        ("c", 0),
    ]
    assert day.unpriced_legs == ()


def test_contains_without_trips_sees_only_the_end_zones(tmp_path: Path) -> None:
    feed_dir = tmp_path / "feed"
    feed_dir.mkdir()
    for file in (FIXTURES / "v1_contains").glob("*.txt"):
        if file.name not in ("trips.txt", "stop_times.txt"):
            (feed_dir / file.name).write_bytes(file.read_bytes())
    [unpriced] = day_of(load_feed(feed_dir), [("GRT", "g5", "g7", 0)], TORONTO).unpriced_legs
    assert unpriced.reason.startswith("no fare")


# -- the cheapest cover -----------------------------------------------------------------------


def test_cover_prefers_the_cheapest_split(routes: FareFeed) -> None:
    # Four LOOP rides: loop2 allows two transfers, so one fare covers three rides and a second
    # fare the fourth, whichever three: 2.00 either way, never 4 x 1.00.
    legs = [("LOOP", "s1", "s2", minutes) for minutes in (0, 10, 20, 30)]
    day = day_of(routes, legs)
    assert day.total.amount == 200
    assert [leg.charged.amount for leg in day.legs] == [100, 0, 0, 100]


def test_v1_feed_keeps_pricing_a_single_leg_as_before(zones: FareFeed) -> None:
    assert not zones.uses_fares_v2
    assert zones.v1_transfers
    assert cents(zones, [("R", "z3", "z5", 0)]) == 250


def test_faregate_caps_apply_after_the_v1_cover(tmp_path: Path) -> None:
    # A capped day on a v1 feed: the cover first (one b fare for TSW + TSE within the hour),
    # then the day cap on what is left, as on a v2 feed.
    feed_dir = tmp_path / "feed"
    feed_dir.mkdir()
    for file in (FIXTURES / "v1_routes").glob("*.txt"):
        (feed_dir / file.name).write_bytes(file.read_bytes())
    (feed_dir / "faregate_caps.txt").write_text(
        "cap_id,period,amount,currency\nday,day,500,USD\n", encoding="utf-8"
    )
    feed = load_feed(feed_dir)
    legs = [
        ("TSW", "s1", "s2", 0),
        ("TSE", "s2", "s3", 30),
        ("EXP", "s3", "s1", 120),
        ("TSW", "s1", "s2", 240),
    ]
    day = day_of(feed, legs)
    assert [leg.charged.amount for leg in day.legs] == [200, 0, 300, 0]
    assert [leg.capped for leg in day.legs] == [False, False, True, True]
    assert day.total.amount == 500
    [cap] = day.caps_applied
    assert (cap.cap_id, cap.saved.amount) == ("day", 100 + 200)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"fare_attributes.txt": "fare_id,price,currency_type,transfers\nc,3.00,USD,-3\n"},
            "fare_attributes.txt line 2: transfers -3 is not a count",
        ),
        (
            {
                "fare_attributes.txt": "fare_id,price,currency_type,transfer_duration\n"
                "c,3.00,USD,-5\n"
            },
            "fare_attributes.txt line 2: transfer_duration -5 is not a number of seconds",
        ),
        (
            {"trips.txt": "route_id,service_id,trip_id\nBUS,all,north\n"},
            'trips.txt line 2: route_id "BUS" is not a known route',
        ),
        (
            {
                "stop_times.txt": "trip_id,stop_id,stop_sequence\nnorth,g5,1\nwest,g6,2\n",
            },
            'stop_times.txt line 3: trip_id "west" is not a known trip (trips.txt)',
        ),
        (
            {"stop_times.txt": "trip_id,stop_id,stop_sequence\nnorth,g5,first\n"},
            'stop_times.txt line 2: stop_sequence "first" is not an integer',
        ),
    ],
)
def test_v1_feed_errors_name_file_line_and_reason(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    feed_dir = tmp_path / "feed"
    feed_dir.mkdir()
    for file in (FIXTURES / "v1_contains").glob("*.txt"):
        (feed_dir / file.name).write_bytes(file.read_bytes())
    for name, text in files.items():
        (feed_dir / name).write_text(text, encoding="utf-8")
    with pytest.raises(FeedError, match=f"^{re.escape(message)}"):
        load_feed(feed_dir)


def test_a_fare_covers_a_run_whose_first_leg_no_fare_covers_alone(
    tmp_path: Path, zones: FareFeed
) -> None:
    # Nothing covers 3 -> 6 (b35 goes from zone 3 to 4 or 5) nor 6 -> 4; b35 (one transfer
    # within two hours) covers the run 3 -> 6 -> 4: its first origin and last destination.
    assert [u.index for u in day_of(zones, [("R", "z3", "z6", 0)]).unpriced_legs] == [0]
    day = day_of(zones, [("R", "z3", "z6", 0), ("R", "z6", "z4", 30)])
    assert day.unpriced_legs == ()
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("b35", 250),
        ("b35", 0),
    ]


def test_a_transfers_count_beyond_the_reference_is_read_with_a_warning(tmp_path: Path) -> None:
    feed_dir = tmp_path / "feed"
    shutil.copytree(FIXTURES / "v1_routes", feed_dir)
    attributes = feed_dir / "fare_attributes.txt"
    attributes.write_text(
        attributes.read_text().replace("loop2,1.00,USD,0,2,", "loop2,1.00,USD,0,3,")
    )
    with pytest.warns(FeedWarning, match=r"fare_attributes.txt line 4: transfers 3 is beyond"):
        feed = load_feed(feed_dir)
    assert feed.gtfs.fare_attributes["loop2"].transfers == 3
    attributes.write_text(
        attributes.read_text().replace("loop2,1.00,USD,0,3,", "loop2,1.00,USD,0,-1,")
    )
    with pytest.raises(FeedError, match="transfers -1 is not a count"):
        load_feed(feed_dir)
