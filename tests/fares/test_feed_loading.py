"""Loading feeds: folders and zips, Fares v1 and v2, and errors that name file, line and reason."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from ticketing.errors import TicketingError
from ticketing.fares import FareFeed, QuoteLeg, load_feed, quote
from ticketing.gtfs import FeedError, read_feed
from ticketing.gtfs.records import (
    CapPeriod,
    DurationLimitType,
    FareMediaType,
    FareTransferType,
    IncompleteJourneyPolicy,
    PassKind,
)

MINICITY = Path(__file__).resolve().parents[1] / "fixtures" / "minicity"

FeedDir = Callable[..., Path]


def test_folder_and_zip_load_the_same(tmp_path: Path) -> None:
    archive = tmp_path / "minicity.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in MINICITY.iterdir():
            zf.write(file, f"minicity/{file.name}")
    from_folder, from_zip = read_feed(MINICITY), read_feed(archive)
    assert from_zip.fare_leg_rules == from_folder.fare_leg_rules
    assert from_zip.fare_products == from_folder.fare_products
    assert from_zip.caps == from_folder.caps
    assert len(from_folder.fare_leg_rules) == 12


def test_minicity_records(minicity: FareFeed) -> None:
    gtfs = minicity.gtfs
    assert minicity.currency == "VND"
    assert minicity.default_category == "adult"
    assert gtfs.has_rule_priority
    assert minicity.network_of("B2") == "bus_short"
    assert minicity.agency_of("M1") == "metro_co"
    assert {c.cap_id for c in gtfs.caps} == {"metro_day", "all_day", "bus_month"}
    assert [p.route_id for p in minicity.passes["bus_month_b1"]] == ["B1"]
    assert len(minicity.passes["bus_month_all"]) == 2
    discount = [p for p in gtfs.fare_products if p.fare_product_id == "bus_metro_discount"]
    assert discount[0].amount.amount == -2000


def test_enumerated_columns_load_as_enums(minicity: FareFeed) -> None:
    gtfs = minicity.gtfs
    assert {cap.cap_id: cap.period for cap in gtfs.caps} == {
        "metro_day": CapPeriod.DAY,
        "all_day": CapPeriod.DAY,
        "bus_month": CapPeriod.MONTH,
    }
    assert {p.fare_product_id: p.kind for p in gtfs.passes}["metro_day"] is PassKind.DAY
    within_bus, bus_to_metro = gtfs.fare_transfer_rules
    assert within_bus.fare_transfer_type is FareTransferType.A_PLUS_AB
    assert bus_to_metro.fare_transfer_type is FareTransferType.A_PLUS_AB_PLUS_B
    assert within_bus.duration_limit_type is DurationLimitType.DEPARTURE_TO_DEPARTURE
    assert gtfs.fare_media["app"].media_type is FareMediaType.MOBILE_APP
    assert gtfs.fare_media["cash"].media_type is FareMediaType.NONE
    assert {row.incomplete_journey for row in gtfs.policies} == {IncompleteJourneyPolicy.MAX_FARE}


def test_unknown_columns_are_tolerated(feed_dir: FeedDir) -> None:
    path = feed_dir(
        networks="network_id,network_name,colour,x_internal\nmetro,Metro,red,1\n"
        "bus_short,Short,blue,2\nbus_long,Long,green,3\n"
    )
    assert load_feed(path).network_of("M1") == "metro"


def test_caltrain_millbrae_to_mountain_view_is_ow_2(caltrain: Path) -> None:
    feed = load_feed(caltrain)
    assert not feed.uses_fares_v2
    day = quote(
        feed,
        [
            QuoteLeg(
                "ct_local",
                "Millbrae Caltrain",
                "Mountain View Caltrain",
                datetime.fromisoformat("2009-08-07T12:00:00-07:00"),
            )
        ],
    )
    assert day.total.amount == 425
    assert day.total.currency == "USD"
    assert day.legs[0].fare_product_id == "OW_2"
    assert day.legs[0].agency_id == "Caltrain"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {
                "fare_products": "fare_product_id,amount,currency\nm_short,8000,VND\n"
                "bus_8000,8000,VND\nm_long,12000,VND\nm_offpeak,6000,VND\nbus_20000,20000,VND\n"
                "bus_metro_discount,-2000,VND\nmetro_day,abc,VND\n"
            },
            'fare_products.txt line 8: amount "abc" is not a number',
        ),
        (
            {"fare_products": "fare_product_id,currency\nm_short,VND\n"},
            "fare_products.txt line 1: missing required column amount",
        ),
        (
            {"fare_products": "fare_product_id,amount,currency\nm_short,8000,XXQ\n"},
            'fare_products.txt line 2: currency "XXQ" is not a supported currency',
        ),
        (
            {"fare_products": "fare_product_id,amount,currency\nm_short,8000.5,VND\n"},
            'fare_products.txt line 2: amount "8000.5" has more decimals than VND allows',
        ),
        (
            {
                "fare_leg_rules": "network_id,from_area_id,to_area_id,fare_product_id\n"
                "metro,a_A,a_B,m_short\nmetro,a_A,a_Z,m_short\n"
            },
            'fare_leg_rules.txt line 3: to_area_id "a_Z" is not a known area (areas.txt)',
        ),
        (
            {"fare_leg_rules": "network_id,fare_product_id\ntram,m_short\n"},
            'fare_leg_rules.txt line 2: network_id "tram" is not a known network',
        ),
        (
            {"fare_leg_rules": "network_id,fare_product_id\nmetro,nope\n"},
            'fare_leg_rules.txt line 2: fare_product_id "nope" is not a known fare product '
            "(fare_products.txt)",
        ),
        (
            {
                "fare_transfer_rules": "from_leg_group_id,to_leg_group_id,fare_transfer_type\n"
                "bus,bus,0\n"
            },
            "fare_transfer_rules.txt line 2: transfer_count is required when from_leg_group_id "
            "equals to_leg_group_id",
        ),
        (
            {
                "fare_transfer_rules": "from_leg_group_id,to_leg_group_id,fare_transfer_type,"
                "duration_limit\nbus,metro,1,3600\n"
            },
            "fare_transfer_rules.txt line 2: duration_limit_type is required with duration_limit "
            "and forbidden without it",
        ),
        (
            {"faregate_caps": "cap_id,period,amount,currency\nc1,week,100,VND\n"},
            'faregate_caps.txt line 2: period "week" is not day or month',
        ),
        (
            {"faregate_caps": "cap_id,period,amount,currency\nc1,day,1.5,VND\n"},
            'faregate_caps.txt line 2: amount "1.5" is not an integer amount of minor units',
        ),
        (
            {"faregate_passes": "fare_product_id,kind\nnot_a_product,day\n"},
            'faregate_passes.txt line 2: fare_product_id "not_a_product" is not a known fare '
            "product (fare_products.txt)",
        ),
        (
            {"faregate_policy": "network_id,incomplete_journey\n,charge_nothing\n"},
            'faregate_policy.txt line 2: incomplete_journey "charge_nothing" is not max_fare',
        ),
        (
            {"faregate_policy": "network_id,timezone\n,Mars/Olympus\n"},
            'faregate_policy.txt line 2: timezone "Mars/Olympus" is not an IANA time zone',
        ),
        (
            {
                "timeframes": "timeframe_group_id,start_time,end_time,service_id\n"
                "peak,7h,9h,weekdays\n"
            },
            'timeframes.txt line 2: start_time "7h" is not a time (HH:MM:SS)',
        ),
        (
            {"stop_areas": "area_id,stop_id\na_A,M_A\na_B,NOWHERE\n"},
            'stop_areas.txt line 3: stop_id "NOWHERE" is not a known stop (stops.txt)',
        ),
        (
            {"route_networks": "network_id,route_id\nmetro,M1\nbus_short,M1\n"},
            'route_networks.txt line 3: route_id "M1" is already in network "metro"',
        ),
        (
            {"networks": "network_id,network_name\nmetro,Metro\nmetro,Again\n"},
            'networks.txt line 3: duplicate network_id "metro"',
        ),
        (
            {"fare_media": "fare_media_id,fare_media_type\napp,4,surplus\ncash,0\n"},
            "fare_media.txt line 2: 3 cells but the header has 2",
        ),
        (
            {"fare_media": "fare_media_id,fare_media_type\napp,4\ncash,9\n"},
            "fare_media.txt line 3: fare_media_type 9 is not one of 0, 1, 2, 3, 4",
        ),
    ],
)
def test_feed_errors_name_file_line_and_reason(
    feed_dir: FeedDir, files: dict[str, str], message: str
) -> None:
    path = feed_dir(**files)
    with pytest.raises(FeedError) as caught:
        load_feed(path)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, TicketingError)
    assert caught.value.file == message.split(" ")[0]


def test_line_numbers_count_physical_lines_with_quoted_newlines(feed_dir: FeedDir) -> None:
    path = feed_dir(
        networks='network_id,network_name\nmetro,"Metro\nline"\nbus_short,Short\n'
        "bus_long,Long\n,missing id\n"
    )
    with pytest.raises(FeedError, match=r"^networks.txt line 6: network_id is required$"):
        load_feed(path)


def test_missing_feed_and_non_zip_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="no such feed folder or zip file"):
        load_feed(tmp_path / "absent")
    junk = tmp_path / "feed.zip"
    junk.write_text("not a zip")
    with pytest.raises(FeedError, match=r"feed\.zip: is neither a folder nor a zip archive"):
        load_feed(junk)


def test_feed_without_fares_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "nofares"
    target.mkdir()
    for name in ("agency.txt", "routes.txt", "stops.txt"):
        shutil.copy(MINICITY / name, target / name)
    with pytest.raises(FeedError, match="has no fares"):
        load_feed(target)
