"""Trips by service day on the passenger API: each day's trips in the order ridden, its total,
the progress toward each cap of the networks ridden (the day's, and the month's to that day),
passes, bus rides as tap-on-only rides, journeys missing a tap explained, paging by date, and
bad paging a clear 422."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from faregate.api.context import UOWS
from faregate_data import HANOI_FEED
from tests.helpers.api import Client
from tests.helpers.passengers import register
from tests.helpers.payments import HANOI, ride_the_metro, tap_and_price
from ticketing.fares.feed import load_feed
from ticketing.taps import TapKind

MONDAY, TUESDAY, WEDNESDAY = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), HANOI)


def caps_of(day: dict[str, Any]) -> dict[str, tuple[int, int, bool]]:
    return {
        c["cap_id"]: (c["spent"]["amount"], c["cap"]["amount"], c["reached"]) for c in day["caps"]
    }


async def test_trips_are_grouped_by_day_with_totals_caps_and_each_ride_explained(
    client: Client,
) -> None:
    rider = await register(client)
    uows, feed = client.app[UOWS], load_feed(HANOI_FEED)
    await ride_the_metro(uows, feed, rider.account_id, MONDAY)  # 15,000 + 12,000
    await tap_and_price(
        uows, feed, rider.account_id,
        [
            (at(TUESDAY, 8), "bus32", "bx_giap_bat", TapKind.BOARD),  # a bus: no tap-off
            (at(TUESDAY, 9), "m2a", "m2a_05", TapKind.EXIT),  # an exit with no entry
            (at(TUESDAY, 18), "m2a", "m2a_03", TapKind.ENTRY),  # an entry with no exit
        ],
    )  # fmt: skip
    rides = [(at(WEDNESDAY, 7 + 2 * n), "m2a", "m2a_01", TapKind.ENTRY) for n in range(3)]
    rides += [(t + timedelta(minutes=25), "m2a", "m2a_12", TapKind.EXIT) for t, *_ in rides]
    await tap_and_price(uows, feed, rider.account_id, rides)  # 3 x 15,000, capped at 30,000

    response = await rider.get("/api/v1/passenger/trips")
    assert response.status == 200, await response.text()
    page = await response.json()
    assert page["next_before"] is None
    wednesday, tuesday, monday = page["days"]
    assert [d["service_day"] for d in page["days"]] == ["2026-11-25", "2026-11-24", "2026-11-23"]

    assert monday["total"] == {"amount": 27_000, "currency": "VND"}
    assert caps_of(monday)["m2a_day_cap"] == (27_000, 30_000, False)  # 27,000 of 30,000 today
    assert caps_of(monday)["m2a_month_cap"] == (27_000, 200_000, False)
    assert monday["caps"][0]["network_name"].startswith("Metro 2A")

    bus, no_entry, no_exit = tuesday["trips"]
    assert (bus["ride"], bus["incomplete"], bus["to_stop_id"]) == ("tap_on_only", False, None)
    assert no_entry["ride"] == "no_entry"
    assert (no_entry["from_stop_id"], no_entry["from_stop_name"]) == (None, None)
    assert no_entry["to_stop_name"] == "Thượng Đình"
    assert no_exit["ride"] == "no_exit"
    assert no_entry["incomplete"]
    assert no_exit["incomplete"]
    assert tuesday["total"]["amount"] == sum(t["fare"]["amount"] for t in tuesday["trips"])
    assert {"m2a_day_cap", "m2a_month_cap"} <= set(caps_of(tuesday))  # and the bus network's

    assert wednesday["total"]["amount"] == 30_000
    assert caps_of(wednesday)["m2a_day_cap"] == (30_000, 30_000, True)
    assert [t["capped"] for t in wednesday["trips"]] == [False, False, True]
    month_to_date = 27_000 + tuesday["total"]["amount"] - bus["fare"]["amount"] + 30_000
    assert caps_of(wednesday)["m2a_month_cap"][0] == month_to_date


async def test_trip_days_are_paged_by_date(client: Client) -> None:
    rider = await register(client)
    uows, feed = client.app[UOWS], load_feed(HANOI_FEED)
    for day in (MONDAY, TUESDAY, WEDNESDAY):
        await ride_the_metro(uows, feed, rider.account_id, day)
    first = await (await rider.get("/api/v1/passenger/trips?days=2")).json()
    assert [d["service_day"] for d in first["days"]] == ["2026-11-25", "2026-11-24"]
    assert first["next_before"] == "2026-11-24"
    second = await (
        await rider.get(f"/api/v1/passenger/trips?days=2&before={first['next_before']}")
    ).json()
    assert [d["service_day"] for d in second["days"]] == ["2026-11-23"]
    assert second["next_before"] is None
    assert [len(d["trips"]) for d in second["days"]] == [2]


async def test_bad_trip_paging_is_a_clear_422(client: Client) -> None:
    rider = await register(client)
    for query in ("before=yesterday", "days=0", "days=32", "days=x", "colour=blue"):
        response = await rider.get(f"/api/v1/passenger/trips?{query}")
        assert response.status == 422, query
        assert response.content_type == "application/problem+json"
        assert (await response.json())["detail"]
