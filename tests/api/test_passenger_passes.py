"""Passes on the passenger API: the catalogue with prices and validity, the passes held
(named, with their end), renewing one for its next period (charged once however often it is
asked), and every refusal a clear 4xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import Client, make_config
from tests.helpers.passengers import MovableClock, register

# 10:00 in Hanoi on a Monday: the service day is 7 Dec 2026 (the cut-off is 04:00).
MORNING = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


async def test_the_catalogue_lists_the_passes_sold_to_the_rider_with_price_and_validity(
    client: Client,
) -> None:
    rider = await register(client)
    response = await rider.get("/api/v1/passenger/passes")
    assert response.status == 200, await response.text()
    document = await response.json()
    assert document["passes"] == []
    catalogue = {entry["product_id"]: entry for entry in document["catalogue"]}
    month = catalogue["m2a_month"]
    assert month["name"] == "Vé tháng Metro 2A"  # in the rider's language: Vietnamese first
    assert month["kind"] == "month"
    assert month["price"] == {"amount": 200_000, "currency": "VND"}
    day = catalogue["m2a_day"]
    assert day["kind"] == "day"
    # A day pass bought now runs to the end of this service day (04:00 Hanoi, 21:00 UTC).
    assert datetime.fromisoformat(day["valid_until"]).astimezone(UTC).hour == 21
    assert "m2a_month_priority" not in catalogue  # sold to priority riders only
    kinds = [entry["kind"] for entry in document["catalogue"]]
    assert kinds == sorted(kinds)  # day passes first


async def test_passes_are_named_in_english_when_the_rider_asks(client: Client) -> None:
    rider = await register(client)
    english = {**rider.auth, "Accept-Language": "en-GB"}
    document = await (await client.get("/api/v1/passenger/passes", headers=english)).json()
    names = {entry["product_id"]: entry["name"] for entry in document["catalogue"]}
    assert (names["m2a_day"], names["bus_month_all"]) == (
        "Metro 2A day pass", "Bus monthly pass, all routes"
    )


async def test_a_pass_renewed_starts_when_the_held_one_ends_and_is_charged_once(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    clock = MovableClock(MORNING)
    config = make_config(tmp_path, db_url, localstripe_server, clock=clock)
    async with TestClient(TestServer(create_app(config))) as client:
        rider = await register(client)
        await rider.post("/api/v1/passenger/card", {"payment_method": "pm_card_visa"})
        top_up = {"amount": 500_000, "request_id": "passes"}
        assert (await rider.post("/api/v1/passenger/top-ups", top_up)).status == 200
        bought = await (
            await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
        ).json()

        renewal = {"pass_id": bought["pass_id"]}
        first = await rider.post("/api/v1/passenger/passes/renewals", renewal)
        assert first.status == 200, await first.text()
        renewed = await first.json()
        assert renewed["valid_from"] == bought["valid_until"]
        assert renewed["pass_id"].endswith(":m2a_month:2027-01-07")
        clock.at += timedelta(minutes=5)
        again = await rider.post("/api/v1/passenger/passes/renewals", renewal)
        assert await again.json() == renewed  # the same next pass, not a third

        held = (await (await rider.get("/api/v1/passenger/passes")).json())["passes"]
        assert [(p["pass_id"], p["current"]) for p in held] == [
            (renewed["pass_id"], False),
            (bought["pass_id"], True),
        ]
        assert held[1]["name"] == "Vé tháng Metro 2A"
        assert held[1]["valid_until"] == bought["valid_until"]
        account = await (await rider.get("/api/v1/passenger/account")).json()
        assert account["balance"]["amount"] == 500_000 - 2 * 200_000


async def test_a_pass_run_out_is_renewed_from_now(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    clock = MovableClock(MORNING)
    config = make_config(tmp_path, db_url, localstripe_server, clock=clock)
    async with TestClient(TestServer(create_app(config))) as client:
        rider = await register(client)
        await rider.post("/api/v1/passenger/card", {"payment_method": "pm_card_visa"})
        await rider.post("/api/v1/passenger/top-ups", {"amount": 100_000, "request_id": "day"})
        bought = await (
            await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_day"})
        ).json()
        clock.at += timedelta(days=3)
        await rider.sign_in_again()
        renewed = await (
            await rider.post("/api/v1/passenger/passes/renewals", {"pass_id": bought["pass_id"]})
        ).json()
        assert datetime.fromisoformat(renewed["valid_from"]) == clock.at
        assert renewed["pass_id"].endswith(":m2a_day:2026-12-10")


async def test_bad_renewals_are_clear_refusals(client: Client) -> None:
    rider, other = await register(client), await register(client)
    unknown = await rider.post("/api/v1/passenger/passes/renewals", {"pass_id": "nope"})
    assert unknown.status == 404
    assert (await unknown.json())["type"].endswith(":unknown-record")
    empty = await rider.post("/api/v1/passenger/passes/renewals", {"pass_id": ""})
    assert empty.status == 422
    nul = await rider.post("/api/v1/passenger/passes/renewals", {"pass_id": "a\x00b"})
    assert nul.status == 422  # was a 500 on PostgreSQL, found by the fuzz
    extra = await rider.post(
        "/api/v1/passenger/passes/renewals", {"pass_id": "x", "product_id": "m2a_day"}
    )
    assert extra.status == 422
    await other.post("/api/v1/passenger/card", {"payment_method": "pm_card_visa"})
    await other.post("/api/v1/passenger/top-ups", {"amount": 100_000, "request_id": "o"})
    theirs = await (await other.post("/api/v1/passenger/passes", {"product_id": "m2a_day"})).json()
    stolen = await rider.post("/api/v1/passenger/passes/renewals", {"pass_id": theirs["pass_id"]})
    assert stolen.status == 404  # another rider's pass is no pass of this account


async def test_a_postpaid_rider_without_a_card_is_told_to_save_one(client: Client) -> None:
    rider = await register(client, "postpaid_card")
    refused = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_day"})
    assert refused.status == 409
    problem = await refused.json()
    assert problem["type"].endswith(":no-card")
    assert "not sold on credit" in problem["detail"]
    assert (await (await rider.get("/api/v1/passenger/passes")).json())["passes"] == []
