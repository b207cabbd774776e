"""The operator's lots and tariffs over HTTP (SQLite and PostgreSQL, the local Redis): a lot
created on a fresh server takes its barrier's uploads; a tariff is uploaded as a draft (each
error with its field and reason), previewed, scheduled and cancelled; a lot's day is served
as the page draws it; every bad input is a 4xx problem document, nothing changed."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from faregate.api.context import UOWS
from tests.helpers.api import Client, Device, call, token
from tests.helpers.devices import barrier
from tests.helpers.parking import shipped
from tests.helpers.parking_api import created, new_lot, problem
from ticketing.audit import AuditQuery, TargetKind
from ticketing.services.audit import read_audit
from ticketing.users import UserRole

DEARER = shipped("hanoi-car").replace("amount = 25000", "amount = 30000", 1)


async def test_a_lot_created_through_the_api_takes_its_barriers_uploads(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops)
    assert (lot["capacity"], lot["reserved"], lot["currency"]) == (30, 2, "VND")
    assert (lot["tariff"]["tariff_id"], lot["tariff"]["in_force"]) == ("hanoi-car", True)
    assert lot["latitude"] == 21.02889
    device = await Device.enrol(client, f"barrier-{secrets.token_hex(4)}", barrier(lot["lot_id"]))
    record = {
        "device_id": device.id, "seq": 1, "lot_id": lot["lot_id"], "kind": "entry",
        "at": datetime.now(UTC).isoformat(), "reason": "ok", "plate": "30A-123.45",
        "vehicle": "car",
    }  # fmt: skip
    body = json.dumps({"lot_id": lot["lot_id"], "records": [record]}).encode()
    upload = await device.post("/device/v1/parking/journal", body)
    assert upload.status == 200, await upload.text()
    assert (await upload.json())["applied"] == 1
    lots = await (await call(client, "GET", "/api/v1/operator/lots", None, ops)).json()
    (mine,) = [x for x in lots["lots"] if x["lot_id"] == lot["lot_id"]]
    assert (mine["occupied"], mine["free"]) == (1, 27)  # 30 spaces, 2 reserved, 1 car in


async def test_a_lot_is_changed_with_the_reason_in_the_audit_log(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops)
    path = f"/api/v1/operator/lots/{lot['lot_id']}"
    answer = await call(client, "PATCH", path, {"capacity": 45, "reason": "repainted"}, ops)
    assert answer.status == 200, await answer.text()
    assert (await answer.json())["capacity"] == 45
    fetched = await (await call(client, "GET", path, None, ops)).json()
    assert fetched["capacity"] == 45
    page = await read_audit(
        client.server.app[UOWS], AuditQuery(target_kind=TargetKind.LOT, target_id=lot["lot_id"])
    )
    assert [e.reason for e in page.entries if e.reason] == ["repainted"]


async def test_bad_lots_are_refused_with_the_field_and_nothing_is_created(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops)
    lot_id, path = lot["lot_id"], f"/api/v1/operator/lots/{lot['lot_id']}"
    fresh = f"street-{secrets.token_hex(4)}"
    toml = {"tariff": "id = 1", "tariff_name": None}
    bad: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/api/v1/operator/lots", new_lot(lot_id), 409, "lot-exists"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, reserved=31), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, operator="nobody"), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot("bad id"), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, capacity=-1), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, latitude=91), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, longitude=None), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, name="\x00"), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, tariff_name="x"), 422, "tariff"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, **toml), 422, "tariff"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, tariff_name=None), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, kind="roof"), 422, "validation"),
        ("POST", "/api/v1/operator/lots", new_lot(fresh, extra=1), 422, "validation"),
        ("PATCH", path, {}, 422, "validation"),
        ("PATCH", path, {"reserved": 31}, 422, "validation"),
        ("PATCH", path, {"kind": "roof"}, 422, "validation"),
        ("PATCH", "/api/v1/operator/lots/nowhere", {"capacity": 5}, 404, "unknown-lot"),
        ("GET", "/api/v1/operator/lots/nowhere", None, 404, "unknown-lot"),
        ("GET", "/api/v1/operator/lots/%00", None, 404, "unknown-lot"),
    ]
    for method, where, body, status, kind in bad:
        document = await problem(await call(client, method, where, body, ops), status, kind)
        if kind == "validation" and "errors" in document:
            assert document["errors"][0]["field"] in document["detail"], document
    reserved = await problem(
        await call(client, "PATCH", path, {"reserved": 31}, ops), 422, "validation"
    )
    assert reserved["errors"] == [{"field": "reserved", "reason": "must be 0 to the capacity (30)"}]
    assert (await (await call(client, "GET", path, None, ops)).json())["reserved"] == 2
    assert (await call(client, "GET", f"/api/v1/operator/lots/{fresh}", None, ops)).status == 404
    for role in (UserRole.FINANCE, UserRole.PASSENGER, UserRole.INSPECTOR):
        other = await token(client, role)
        await problem(await call(client, "PATCH", path, {"capacity": 5}, other), 403, "forbidden")
    await problem(await client.get(path), 401, "unauthorized")


async def test_a_tariff_is_uploaded_previewed_scheduled_and_cancelled(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops)
    tariffs = f"/api/v1/operator/lots/{lot['lot_id']}/tariffs"
    draft = await call(client, "POST", tariffs, {"document": DEARER, "source": "v2.toml"}, ops)
    assert draft.status == 200, await draft.text()
    version = await draft.json()
    assert (version["version"], version["status"], version["in_force"]) == (2, "draft", False)

    preview = await (await call(client, "GET", f"{tariffs}/2/preview", None, ops)).json()
    (two_hours,) = [row for row in preview["rows"] if row["label"] == "2 h"]
    assert (two_hours["amount"], two_hours["current"]) == (30_000, 25_000)
    assert preview["current_version"] == 1

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    scheduled = await call(
        client, "POST", f"{tariffs}/2/schedule", {"effective_from": tomorrow.isoformat()}, ops
    )
    assert scheduled.status == 200, await scheduled.text()
    assert (await scheduled.json())["status"] == "scheduled"
    lot_now = await (
        await call(client, "GET", f"/api/v1/operator/lots/{lot['lot_id']}", None, ops)
    ).json()
    assert lot_now["tariff"]["version"] == 1  # tomorrow's entries, not today's
    assert [v["version"] for v in lot_now["upcoming"]] == [2]

    cancel = await call(client, "POST", f"{tariffs}/2/cancel", {"reason": "typo in prices"}, ops)
    assert cancel.status == 200, await cancel.text()
    listed = await (await call(client, "GET", tariffs, None, ops)).json()
    assert [(v["version"], v["status"]) for v in listed["versions"]] == [
        (2, "cancelled"),
        (1, "scheduled"),
    ]


async def test_bad_tariffs_are_refused_with_each_field_and_reason(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops)
    tariffs = f"/api/v1/operator/lots/{lot['lot_id']}/tariffs"
    broken = DEARER.replace('currency = "VND"', 'currency = "vnd"').replace(
        "grace_minutes = 15", "grace_minutes = -5"
    )
    document = await problem(
        await call(client, "POST", tariffs, {"document": broken}, ops), 422, "tariff"
    )
    fields = {e["field"] for e in document["errors"]}
    assert {"currency", "grace_minutes"} <= fields, document
    assert all(e["reason"] for e in document["errors"])
    euro = DEARER.replace('currency = "VND"', 'currency = "EUR"')
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    bad: list[tuple[str, str, Any, int, str]] = [
        ("POST", tariffs, {"document": "not = [toml"}, 422, "tariff"),
        ("POST", tariffs, {"document": euro}, 422, "validation"),
        ("POST", tariffs, {"document": ""}, 422, "validation"),
        ("POST", tariffs, {"text": DEARER}, 422, "validation"),
        ("POST", "/api/v1/operator/lots/nowhere/tariffs", {"document": DEARER}, 404, "unknown-lot"),
        ("GET", f"{tariffs}/9/preview", None, 404, "unknown-tariff"),
        ("GET", f"{tariffs}/x/preview", None, 404, "unknown-tariff"),
        ("POST", f"{tariffs}/1/schedule", {}, 409, "tariff-schedule"),  # in force: priced stays
        ("POST", f"{tariffs}/1/cancel", {"reason": "no"}, 409, "tariff-schedule"),
        ("POST", f"{tariffs}/1/cancel", {"reason": "  "}, 422, "validation"),
        ("POST", f"{tariffs}/9/schedule", {}, 404, "unknown-tariff"),
        (
            "POST",
            f"{tariffs}/1/schedule",
            {"effective_from": "2026-12-01T00:00"},
            422,
            "validation",
        ),
    ]
    for method, where, body, status, kind in bad:
        await problem(await call(client, method, where, body, ops), status, kind)
    draft = await (await call(client, "POST", tariffs, {"document": DEARER}, ops)).json()
    await problem(
        await call(
            client, "POST", f"{tariffs}/{draft['version']}/schedule", {"effective_from": past}, ops
        ),
        409,
        "tariff-schedule",
    )
    listed = await (await call(client, "GET", tariffs, None, ops)).json()
    assert [(v["version"], v["status"]) for v in listed["versions"]] == [
        (2, "draft"),
        (1, "scheduled"),
    ]


async def test_a_lots_day_is_served_with_its_series(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops)
    device = await Device.enrol(client, f"barrier-{secrets.token_hex(4)}", barrier(lot["lot_id"]))
    # Yesterday 09:00-09:40 in Hanoi: one local day whenever the test runs.
    yesterday = (datetime.now(UTC) + timedelta(hours=7)).date() - timedelta(days=1)
    entered = datetime.combine(yesterday, time(9), ZoneInfo("Asia/Ho_Chi_Minh"))
    records = [
        {"device_id": device.id, "seq": 1, "lot_id": lot["lot_id"], "kind": "entry",
         "at": entered.isoformat(), "reason": "ok", "plate": "29A-11111", "vehicle": "car"},
        {"device_id": device.id, "seq": 2, "lot_id": lot["lot_id"], "kind": "exit",
         "at": (entered + timedelta(minutes=40)).isoformat(), "reason": "paid",
         "session_seq": 1, "plate": "29A-11111", "vehicle": "car", "tariff_id": "hanoi-car",
         "fee": 25_000, "currency": "VND", "collected": 25_000},
    ]  # fmt: skip
    body = json.dumps({"lot_id": lot["lot_id"], "records": records}).encode()
    upload = await device.post("/device/v1/parking/journal", body)
    assert upload.status == 200, await upload.text()
    local_day = yesterday.isoformat()
    path = f"/api/v1/operator/lots/{lot['lot_id']}/days/{local_day}"
    answer = await call(client, "GET", path, None, ops)
    assert answer.status == 200, await answer.text()
    figures = await answer.json()
    assert figures["timezone"] == "Asia/Ho_Chi_Minh"
    assert sum(h["entries"] for h in figures["hours"]) == 1
    assert sum(h["exits"] for h in figures["hours"]) == 1
    assert max(p["occupied"] for p in figures["occupancy"]) == 1
    assert figures["stays_ended"] == 1
    assert {d["band"]: d["stays"] for d in figures["dwell"]}["30 min-1 h"] == 1
    assert figures["revenue"][-1]["fees"] == 25_000
    assert len(figures["revenue"]) == 14
    for where, status, kind in [
        (f"/api/v1/operator/lots/{lot['lot_id']}/days/2026-13-01", 422, "validation"),
        (f"/api/v1/operator/lots/{lot['lot_id']}/days/0001-01-01", 422, "validation"),
        (f"/api/v1/operator/lots/{lot['lot_id']}/days/today", 422, "validation"),
        ("/api/v1/operator/lots/nowhere/days/2026-12-01", 404, "unknown-lot"),
    ]:
        await problem(await call(client, "GET", where, None, ops), status, kind)
