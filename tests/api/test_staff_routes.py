"""Operator and finance routes: each limited to its role; device status from the taps table.

The routes run on the app's real services, here on an empty database
(tests/api/test_finance_settlement.py settles days with taps, tests/api/test_operator_parking.py
parks cars)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from faregate.api.context import UOWS
from faregate.api.problems import PROBLEM_JSON
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import Client, Device, call, make_config, token
from tests.helpers.waiting import until
from tests.wallets import top_up
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.users import revoke_token
from ticketing.settlement.states import ExceptionKind
from ticketing.users import UserRole

# What a finance user gets on an empty database: the role guard let each request through (no
# day is in the settlement calendar of a database where nothing happened).
FINANCE_ROUTES = [
    ("POST", "/api/v1/finance/settlements", {"day": "2026-11-24"}, 422),
    ("GET", "/api/v1/finance/settlements", None, 200),
    ("GET", "/api/v1/finance/settlements/2026-11-24", None, 200),
    ("POST", "/api/v1/finance/settlements/2026-11-24/approve", None, 409),
    ("GET", "/api/v1/finance/exceptions?day=2026-11-24", None, 200),
    ("GET", "/api/v1/finance/figures?day=2026-11-24", None, 404),
    ("GET", "/api/v1/finance/statements?day=2026-11-24&name=statements.csv", None, 404),
    ("GET", "/api/v1/finance/trip-cases", None, 200),
]
OPERATOR_ROUTES = [
    ("GET", "/api/v1/operator/devices", None),
    ("GET", "/api/v1/operator/lots", None),
    ("GET", "/api/v1/operator/unable-to-collect", None),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), FINANCE_ROUTES)
async def test_finance_routes_refuse_operators_and_passengers(
    client: Client, method: str, path: str, body: Any, status: int
) -> None:
    for role in (UserRole.OPERATOR, UserRole.PASSENGER):
        response = await call(client, method, path, body, await token(client, role))
        assert response.status == 403, (role, path)
        assert response.content_type == PROBLEM_JSON
    assert (await client.request(method, path, json=body)).status == 401
    finance = await call(client, method, path, body, await token(client, UserRole.FINANCE))
    assert finance.status == status, await finance.text()
    if status == 404:
        assert (await finance.json())["type"].endswith("not-settled")
    if status == 422:
        assert (await finance.json())["type"].endswith("outside-calendar")


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ROUTES)
async def test_operator_routes_refuse_finance_and_passengers(
    client: Client, method: str, path: str, body: Any
) -> None:
    for role in (UserRole.FINANCE, UserRole.PASSENGER):
        response = await call(client, method, path, body, await token(client, role))
        assert response.status == 403, (role, path)
    assert (await client.request(method, path)).status == 401
    operator = await call(client, method, path, body, await token(client, UserRole.OPERATOR))
    assert operator.status == 200


async def test_the_staff_routes_answer_on_an_empty_database(client: Client) -> None:
    fin = await token(client, UserRole.FINANCE)
    ops = await token(client, UserRole.OPERATOR)
    listed = await call(client, "GET", "/api/v1/finance/settlements", None, fin)
    assert (listed.status, await listed.json()) == (200, {"days": []})
    lots = await call(client, "GET", "/api/v1/operator/lots", None, ops)
    assert (lots.status, await lots.json()) == (200, {"lots": []})
    fees = await call(client, "GET", "/api/v1/operator/unable-to-collect", None, ops)
    assert (fees.status, await fees.json()) == (200, {"fees": []})
    paths = (await (await client.get("/openapi.json")).json())["paths"]
    assert sorted(p for p in paths if p.startswith("/api/v1/finance")) == [
        "/api/v1/finance/audit", "/api/v1/finance/exceptions", "/api/v1/finance/figures",
        "/api/v1/finance/quarantine", "/api/v1/finance/quarantine/{id}/resolve",
        "/api/v1/finance/settlements", "/api/v1/finance/settlements/{day}",
        "/api/v1/finance/settlements/{day}/approve",
        "/api/v1/finance/settlements/{day}/operators/{operator}", "/api/v1/finance/statements",
        "/api/v1/finance/trip-cases", "/api/v1/finance/trip-cases/{case_id}/resolve",
    ]  # fmt: skip
    assert sorted(p for p in paths if p.startswith("/api/v1/operator")) == [
        "/api/v1/operator/cases", "/api/v1/operator/cases.csv",
        "/api/v1/operator/cases/{session_id}/collect",
        "/api/v1/operator/cases/{session_id}/notify",
        "/api/v1/operator/cases/{session_id}/write-off",
        "/api/v1/operator/devices", "/api/v1/operator/devices/{device_id}/revoke",
        "/api/v1/operator/lots", "/api/v1/operator/lots/{lot_id}",
        "/api/v1/operator/lots/{lot_id}/barriers",
        "/api/v1/operator/lots/{lot_id}/barriers/{device_id}/open",
        "/api/v1/operator/lots/{lot_id}/days/{day}",
        "/api/v1/operator/lots/{lot_id}/permits", "/api/v1/operator/lots/{lot_id}/tariffs",
        "/api/v1/operator/lots/{lot_id}/tariffs/{version}/cancel",
        "/api/v1/operator/lots/{lot_id}/tariffs/{version}/preview",
        "/api/v1/operator/lots/{lot_id}/tariffs/{version}/schedule",
        "/api/v1/operator/refusals", "/api/v1/operator/unable-to-collect",
    ]  # fmt: skip


async def test_finance_input_is_validated_before_anything(client: Client) -> None:
    fin = await token(client, UserRole.FINANCE)
    for method, path, body in [
        ("POST", "/api/v1/finance/settlements", {"day": "yesterday"}),
        ("GET", "/api/v1/finance/exceptions?day=2026-13-01", None),
        ("GET", "/api/v1/finance/statements?day=2026-11-24&name=../../etc/passwd", None),
    ]:
        assert (await call(client, method, path, body, fin)).status == 422, path


async def test_a_revoked_finance_token_stops_working(client: Client) -> None:
    fin = await token(client, UserRole.FINANCE)
    assert (await call(client, "GET", "/api/v1/finance/settlements", None, fin)).status == 200
    assert await revoke_token(client.server.app[UOWS], fin)
    response = await call(client, "GET", "/api/v1/finance/settlements", None, fin)
    assert response.status == 401


async def test_device_status_shows_last_upload_and_lag(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # the app's clock, stopped
    config = make_config(tmp_path, db_url, localstripe_server, clock=lambda: now)
    tap_time = now - timedelta(minutes=10)
    async with TestClient(TestServer(create_app(config))) as client:
        device = await Device.enrol(client)
        records = [
            device.record(at=(tap_time + timedelta(seconds=n)).isoformat()) for n in range(3)
        ]
        records[2]["device_seq"] = 5  # 3 and 4 never arrived
        body = json.dumps({"records": records}).encode()
        assert (await device.post("/device/v1/journal", body)).status == 200
        ops = await token(client, UserRole.OPERATOR)
        status = await (await call(client, "GET", "/api/v1/operator/devices", None, ops)).json()
    (mine,) = [d for d in status["devices"] if d["device_id"] == device.id]
    assert (mine["records"], mine["last_seq"], mine["missing_sequence_numbers"]) == (3, 5, 2)
    assert datetime.fromisoformat(mine["last_tap_at"]) == tap_time + timedelta(seconds=2)
    assert datetime.fromisoformat(mine["last_upload_at"]) == now
    assert mine["seconds_since_upload"] == 0
    assert mine["journal_lag_seconds"] == 10 * 60 - 2  # received now; the last tap 9:58 before


async def test_wired_staff_routes_pass_the_user_and_documents(client: Client) -> None:
    async with client.server.app[UOWS]() as uow:  # the day's only activity: a top-up
        await uow.riders.open_account(
            RiderAccount("alice", "regular", PaymentMode.PREPAID_WALLET, "VND")
        )
        await top_up(uow, "alice", 50_000, at=datetime(2026, 11, 24, 5, tzinfo=UTC))
        await uow.commit()
    fin, fin2 = await token(client, UserRole.FINANCE), await token(client, UserRole.FINANCE)
    started = await call(client, "POST", "/api/v1/finance/settlements", {"day": "2026-11-24"}, fin)
    assert started.status == 202
    run = (await started.json())["links"]["self"]

    async def state(wanted: str) -> dict[str, Any] | None:
        document: dict[str, Any] = await (await call(client, "GET", run, None, fin)).json()
        return document if document["state"] == wanted else None

    await until(lambda: state("prepared"), "the day is prepared")
    approved = await call(client, "POST", f"{run}/approve", None, fin2)
    assert approved.status == 202
    document = await until(lambda: state("settled"), "the day is settled")
    report = "/api/v1/finance/statements?day=2026-11-24&name=report.html"
    assert document["links"]["report"] == report
    listed = await (await call(client, "GET", "/api/v1/finance/settlements", None, fin)).json()
    assert listed["days"][0] == {
        "day": "2026-11-24", "state": "settled", "digest": document["digest"],
        "error": None, "adjustments_waiting": 0,
    }  # fmt: skip
    figures = await (
        await call(client, "GET", "/api/v1/finance/figures?day=2026-11-24", None, fin)
    ).json()
    assert figures["closed_by"].startswith("finance-")  # the signed-in user settled it
    assert figures["digest"] == document["digest"]
    exceptions = await (
        await call(client, "GET", "/api/v1/finance/exceptions?day=2026-11-24", None, fin)
    ).json()
    # no taps, but the session's shared localstripe may hold other tests' payments
    assert exceptions["day"] == "2026-11-24"
    assert all(e["kind"] in set(ExceptionKind) and e["reference"] for e in exceptions["exceptions"])
    statement = await call(client, "GET", report, None, fin)
    assert statement.content_type == "text/html"
    # the same as its page route sends: opened, it runs nothing on our origin
    assert statement.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert statement.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<svg" in await statement.read()
    # the operator still cannot start one
    ops = await token(client, UserRole.OPERATOR)
    denied = await call(client, "POST", "/api/v1/finance/settlements", {"day": "2026-11-24"}, ops)
    assert denied.status == 403
