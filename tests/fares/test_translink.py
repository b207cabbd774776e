"""The gtfs.org Fares v2 TransLink example (tests/fixtures/translink) prices as published.

Every expected amount is a price the example pages state (see the fixture's README.md),
in CAD cents: bus 3.20, zones 3.20 / 4.65 / 6.35, Sea Island 8.20 / 9.65 / free, evening and
weekend 3.20, AddFare upgrades 1.45 / 1.70 / 3.15 within 90 minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ticketing.fares.feed import FareFeed, load_feed
from ticketing.fares.pricing import QuoteLeg, quote
from ticketing.money import Money

FEED_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "translink"
VANCOUVER = ZoneInfo("America/Vancouver")
WEEKDAY_MORNING = datetime(2025, 3, 12, 10, 0, tzinfo=VANCOUVER)  # a Wednesday
WEEKDAY_EVENING = datetime(2025, 3, 12, 19, 0, tzinfo=VANCOUVER)
WEEKDAY_SMALL_HOURS = datetime(2025, 3, 12, 2, 0, tzinfo=VANCOUVER)
SATURDAY = datetime(2025, 3, 15, 10, 0, tzinfo=VANCOUVER)

WATERFRONT = "8039"  # Zone 1
COMMERCIAL_BROADWAY = "commercial_broadway"  # Zone 1
EDMONDS = "8066"  # Zone 2
LAKE_CITY_WAY = "lake_city_way"  # Zone 2
LONSDALE_QUAY = "lonsdale_quay"  # Zone 2
BRIDGEPORT = "bridgeport"  # Zone 2
SURREY_CENTRAL = "surrey_central"  # Zone 3
YVR = "99901"  # Sea Island (inside Zone 2)
TEMPLETON = "99903"  # Sea Island
BUS_A, BUS_B = "bus_downtown", "bus_kitsilano"

Leg = tuple[str, str, str, int]  # route, from stop, to stop, minutes after the start


def cad(cents: int) -> Money:
    return Money(cents, "CAD")


@pytest.fixture(scope="module")
def feed() -> FareFeed:
    return load_feed(FEED_DIR)


def price(
    feed: FareFeed, start: datetime, legs: Sequence[Leg], category: str | None = None
) -> Money:
    quoted = [
        QuoteLeg(route, origin, destination, start + timedelta(minutes=minutes))
        for route, origin, destination, minutes in legs
    ]
    return quote(feed, quoted, rider_category=category).total


@pytest.mark.parametrize(
    ("legs", "cents"),
    [
        pytest.param([("10232", BUS_A, BUS_B, 0)], 320, id="bus flat fare"),
        pytest.param([("expo_line", WATERFRONT, COMMERCIAL_BROADWAY, 0)], 320, id="1 zone"),
        pytest.param([("expo_line", WATERFRONT, EDMONDS, 0)], 465, id="2 zones"),
        pytest.param([("expo_line", EDMONDS, WATERFRONT, 0)], 465, id="2 zones back"),
        pytest.param([("expo_line", EDMONDS, SURREY_CENTRAL, 0)], 465, id="zone 2 to 3"),
        pytest.param([("expo_line", WATERFRONT, SURREY_CENTRAL, 0)], 635, id="3 zones"),
        pytest.param([("expo_line", SURREY_CENTRAL, WATERFRONT, 0)], 635, id="3 zones back"),
        pytest.param([("seabus", LONSDALE_QUAY, WATERFRONT, 0)], 465, id="seabus 2 zones"),
        pytest.param([("13686", YVR, WATERFRONT, 0)], 965, id="sea island to zone 1"),
        pytest.param([("13686", YVR, BRIDGEPORT, 0)], 820, id="sea island to zone 2"),
        pytest.param([("13686", YVR, TEMPLETON, 0)], 0, id="within sea island"),
        pytest.param([("13686", BRIDGEPORT, YVR, 0)], 320, id="zone 2 to sea island"),
        pytest.param([("13686", WATERFRONT, YVR, 0)], 465, id="zone 1 to sea island"),
    ],
)
def test_weekday_daytime_fares(feed: FareFeed, legs: list[Leg], cents: int) -> None:
    assert price(feed, WEEKDAY_MORNING, legs) == cad(cents)


@pytest.mark.parametrize("start", [WEEKDAY_EVENING, WEEKDAY_SMALL_HOURS, SATURDAY])
def test_evenings_and_weekends_every_skytrain_fare_is_one_zone(
    feed: FareFeed, start: datetime
) -> None:
    assert price(feed, start, [("expo_line", WATERFRONT, SURREY_CENTRAL, 0)]) == cad(320)
    assert price(feed, start, [("10232", BUS_A, BUS_B, 0)]) == cad(320)


@pytest.mark.parametrize("start", [WEEKDAY_EVENING, SATURDAY])
def test_evenings_and_weekends_sea_island_keeps_its_addfare(
    feed: FareFeed, start: datetime
) -> None:
    assert price(feed, start, [("13686", YVR, WATERFRONT, 0)]) == cad(820)
    assert price(feed, start, [("13686", YVR, TEMPLETON, 0)]) == cad(0)


@pytest.mark.parametrize(
    ("legs", "cents"),
    [
        pytest.param(
            [("10232", BUS_A, BUS_B, 0), ("11201", BUS_B, BUS_A, 30)], 320, id="bus to bus"
        ),
        pytest.param(
            [("10232", BUS_A, WATERFRONT, 0), ("expo_line", WATERFRONT, COMMERCIAL_BROADWAY, 30)],
            320,
            id="bus to 1 zone",
        ),
        pytest.param(
            [("10232", BUS_A, WATERFRONT, 0), ("expo_line", WATERFRONT, EDMONDS, 30)],
            320 + 145,
            id="bus to 2 zones pays the AddFare",
        ),
        pytest.param(
            [("expo_line", WATERFRONT, EDMONDS, 0), ("10232", BUS_A, BUS_B, 40)],
            465,
            id="2 zones to bus",
        ),
        pytest.param(
            [
                ("expo_line", COMMERCIAL_BROADWAY, WATERFRONT, 0),
                ("expo_line", WATERFRONT, EDMONDS, 30),
            ],
            320 + 145,
            id="1 zone to 2 zones",
        ),
        pytest.param(
            [
                ("expo_line", COMMERCIAL_BROADWAY, WATERFRONT, 0),
                ("expo_line", WATERFRONT, SURREY_CENTRAL, 30),
            ],
            320 + 315,
            id="1 zone to 3 zones",
        ),
        pytest.param(
            [("expo_line", WATERFRONT, EDMONDS, 0), ("expo_line", EDMONDS, SURREY_CENTRAL, 30)],
            465 + 170,
            id="2 zones to 3 zones",
        ),
        pytest.param(
            [("expo_line", WATERFRONT, EDMONDS, 0), ("30052", EDMONDS, LAKE_CITY_WAY, 30)],
            465,
            id="2 zones then within zone 2",
        ),
    ],
)
def test_transfers_within_90_minutes(feed: FareFeed, legs: list[Leg], cents: int) -> None:
    assert price(feed, WEEKDAY_MORNING, legs) == cad(cents)


def test_no_transfer_after_90_minutes(feed: FareFeed) -> None:
    legs = [("10232", BUS_A, BUS_B, 0), ("11201", BUS_B, BUS_A, 100)]
    assert price(feed, WEEKDAY_MORNING, legs) == cad(640)


def test_nonconsecutive_transfer_example_costs_one_two_zone_fare(feed: FareFeed) -> None:
    # The fare-transfers page's 80-minute journey: SeaBus Lonsdale Quay -> Waterfront (2 zones),
    # SkyTrain Waterfront -> Commercial-Broadway (1 zone), SkyTrain Commercial-Broadway -> Lake
    # City Way (2 zones). The first leg's 2-zone fare covers the third: 4.65 CAD in all.
    legs = [
        ("seabus", LONSDALE_QUAY, WATERFRONT, 0),
        ("expo_line", WATERFRONT, COMMERCIAL_BROADWAY, 30),
        ("30052", COMMERCIAL_BROADWAY, LAKE_CITY_WAY, 60),
    ]
    assert price(feed, WEEKDAY_MORNING, legs) == cad(465)


def test_concession_bus_fare(feed: FareFeed) -> None:
    assert price(feed, WEEKDAY_MORNING, [("10232", BUS_A, BUS_B, 0)], "concession") == cad(215)
    assert price(feed, WEEKDAY_MORNING, [("10232", BUS_A, BUS_B, 0)], "adult") == cad(320)
