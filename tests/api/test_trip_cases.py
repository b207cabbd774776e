"""Report a problem on a trip: the rider opens a case on a priced trip (a missed tap-out, a
double charge), finance refunds it through the ledger or declines it with a reason, and the
rider sees the outcome; every decision in the audit log; every bad request a clear 4xx."""

from __future__ import annotations

from datetime import date
from typing import Any

from faregate.api.context import UOWS
from faregate_data import HANOI_FEED
from tests.helpers.api import Client, call, token
from tests.helpers.passengers import Passenger, register
from tests.helpers.payments import ride_the_metro
from ticketing.audit import AuditAction, AuditQuery, TargetKind
from ticketing.fares.feed import load_feed
from ticketing.users import UserRole

DAY = date(2026, 11, 24)


async def ridden(client: Client, rider: Passenger) -> list[dict[str, Any]]:
    """Two metro trips of the rider on DAY, as the trips page lists them."""
    await ride_the_metro(client.app[UOWS], load_feed(HANOI_FEED), rider.account_id, DAY)
    (day,) = (await (await rider.get("/api/v1/passenger/trips")).json())["days"]
    trips: list[dict[str, Any]] = day["trips"]
    return trips


def report(trip: dict[str, Any], kind: str = "missed_tap_out", note: str = "") -> dict[str, Any]:
    return {
        "service_day": trip["service_day"],
        "started_at": trip["started_at"],
        "route_id": trip["route_id"],
        "kind": kind,
        "note": note,
    }


async def balance(rider: Passenger) -> int:
    account = await (await rider.get("/api/v1/passenger/account")).json()
    return int(account["balance"]["amount"])


async def test_a_case_refunded_gives_the_fare_back_and_the_rider_sees_it(
    client: Client,
) -> None:
    rider = await register(client)
    first, second = await ridden(client, rider)
    before = await balance(rider)
    opened = await rider.post("/api/v1/passenger/cases", report(first, note="I tapped out"))
    assert opened.status == 200, await opened.text()
    case = await opened.json()
    assert (case["status"], case["fare"], case["kind"]) == ("open", 15_000, "missed_tap_out")
    again = await rider.post("/api/v1/passenger/cases", report(first))
    assert (await again.json())["case_id"] == case["case_id"]  # the open case of that trip

    finance = await token(client, UserRole.FINANCE)
    listed = await call(client, "GET", "/api/v1/finance/trip-cases?status=open", None, finance)
    assert [c["case_id"] for c in (await listed.json())["cases"]] == [case["case_id"]]
    path = f"/api/v1/finance/trip-cases/{case['case_id']}/resolve"
    too_much = await call(
        client, "POST", path, {"decision": "refund", "amount": 15_001, "reason": "x"}, finance
    )
    assert too_much.status == 422
    assert (await too_much.json())["type"].endswith(":refund-above-fare")
    body = {"decision": "refund", "amount": 5_000, "reason": "the exit gate was faulty"}
    refunded = await call(client, "POST", path, body, finance)
    assert refunded.status == 200, await refunded.text()
    assert (await refunded.json())["status"] == "refunded"
    assert await balance(rider) == before + 5_000
    twice = await call(client, "POST", path, body, finance)
    assert twice.status == 409
    assert (await twice.json())["type"].endswith(":case-resolved")
    assert await balance(rider) == before + 5_000

    mine = (await (await rider.get("/api/v1/passenger/cases")).json())["cases"]
    assert [(c["status"], c["refunded"], c["reason"]) for c in mine] == [
        ("refunded", 5_000, "the exit gate was faulty")
    ]
    async with client.app[UOWS]() as uow:
        page = await uow.audit.page(
            AuditQuery(action=AuditAction.CASE_UPDATED, target_kind=TargetKind.CASE, limit=10)
        )
    assert [e.target.id for e in page.entries] == [f"trip:{case['case_id']}"]

    declined_case = await (
        await rider.post("/api/v1/passenger/cases", report(second, "double_charge"))
    ).json()
    declined = await call(
        client, "POST", f"/api/v1/finance/trip-cases/{declined_case['case_id']}/resolve",
        {"decision": "decline", "reason": "charged once: two different trips"}, finance,
    )  # fmt: skip
    assert (await declined.json())["status"] == "declined"
    mine = (await (await rider.get("/api/v1/passenger/cases")).json())["cases"]
    assert mine[0]["reason"] == "charged once: two different trips"
    assert await balance(rider) == before + 5_000


async def test_a_whole_fare_refund_and_bad_reports_are_clear(client: Client) -> None:
    rider, other = await register(client), await register(client)
    (first, _) = await ridden(client, rider)
    theirs = await other.post("/api/v1/passenger/cases", report(first))
    assert theirs.status == 404  # not a trip of theirs
    for bad in (
        {**report(first), "kind": "angry"},
        {**report(first), "started_at": "yesterday"},
        {**report(first), "note": "x" * 501},
        {**report(first), "extra": 1},
    ):
        assert (await rider.post("/api/v1/passenger/cases", bad)).status == 422
    case = await (await rider.post("/api/v1/passenger/cases", report(first))).json()
    finance = await token(client, UserRole.FINANCE)
    path = f"/api/v1/finance/trip-cases/{case['case_id']}/resolve"
    for bad_body in ({"decision": "refund"}, {"decision": "maybe", "reason": "x"}):
        assert (await call(client, "POST", path, bad_body, finance)).status == 422
    unknown = "/api/v1/finance/trip-cases/tc-0000000000000000/resolve"
    missing = await call(client, "POST", unknown, {"decision": "decline", "reason": "x"}, finance)
    assert missing.status == 404
    before = await balance(rider)
    whole = await call(client, "POST", path, {"decision": "refund", "reason": "ok"}, finance)
    assert (await whole.json())["refunded"] == 15_000
    assert await balance(rider) == before + 15_000
    passenger_try = await rider.post(path, {"decision": "decline", "reason": "x"})
    assert passenger_try.status == 403
