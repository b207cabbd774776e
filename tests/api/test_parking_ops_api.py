"""Parking operations over HTTP (SQLite and PostgreSQL, the local Redis): unable-to-collect
cases found, written off and exported; permits sold through the operator and passenger APIs;
a barrier opened from afar; an inspector's plate checks. Every bad input is a 4xx problem."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from faregate.api.context import ENGINE, REDIS
from parking.occupancy import Occupancy
from parking.records import BarrierEvent, EventKind
from parking.services import ingest_barrier_batch
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.api import Client, Device, call, token
from tests.helpers.devices import barrier
from tests.helpers.parking import car_fee
from tests.helpers.parking_api import created, problem
from tests.helpers.passengers import register
from ticketing.users import UserRole


def this_month(offset: int = 0) -> str:
    """The Hanoi month `offset` months from now, YYYY-MM."""
    local = datetime.now(UTC) + timedelta(hours=7)
    year, month = divmod(local.year * 12 + local.month - 1 + offset, 12)
    return f"{year:04d}-{month + 1:02d}"


# A pass no rider holds (the car is billed by nobody): above 2**53, so a JSON number would
# lose its last digits.
UNREGISTERED_PASS = 2**62 + 1


async def an_unpaid_exit(client: Client, lot_id: str, plate: str, now: datetime) -> str:
    """A car in and out of the lot (two hours, left five minutes before `now`) whose fee could
    not be taken; its session id."""
    app = client.server.app
    device = f"barrier-{secrets.token_hex(4)}"

    def event(seq: int, kind: EventKind, at: datetime, **extra: Any) -> BarrierEvent:
        return BarrierEvent(
            device_id=device, seq=seq, lot_id=lot_id, kind=kind, at=at, vehicle="car",
            plate=plate, credential_id=UNREGISTERED_PASS, **extra,
        )  # fmt: skip

    await ingest_barrier_batch(
        ParkingUnitOfWorkFactory(app[ENGINE]),
        device,
        lot_id,
        [
            event(1, EventKind.ENTRY, now - timedelta(hours=2), reason="ok"),
            event(
                2, EventKind.EXIT, now - timedelta(minutes=5), reason="unable_to_collect",
                session_seq=1, tariff_id="hanoi-car", fee=25_000, currency="VND", collected=0,
                failure="barrier_offline",
            ),
        ],
        occupancy=Occupancy(app[REDIS]),
    )  # fmt: skip
    return f"{device}:1"


async def test_cases_are_found_written_off_and_exported(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops, kind="car-park")
    plate = f"30A-{secrets.randbelow(10**5):05d}"
    now = datetime.now(UTC).replace(microsecond=0)
    await an_unpaid_exit(client, lot["lot_id"], plate, now)
    found = await call(client, "GET", f"/api/v1/operator/cases?plate={plate}", None, ops)
    assert found.status == 200, await found.text()
    (case,) = (await found.json())["cases"]
    assert (case["lot_id"], case["amount"], case["status"], case["credential_id"]) == (
        lot["lot_id"],
        car_fee(now - timedelta(hours=2), now - timedelta(minutes=5)),
        "open",
        str(UNREGISTERED_PASS),
    )
    session = case["session_id"]
    by_lot = await call(
        client, "GET", f"/api/v1/operator/cases?lot_id={lot['lot_id']}&status=open", None, ops
    )
    assert [c["session_id"] for c in (await by_lot.json())["cases"]] == [session]

    written = await call(
        client, "POST", f"/api/v1/operator/cases/{session}/write-off",
        {"reason": "driver showed a paid receipt"}, ops,
    )  # fmt: skip
    assert written.status == 200, await written.text()
    assert (await written.json())["status"] == "written_off"
    exported = await call(
        client, "GET", f"/api/v1/operator/cases.csv?lot_id={lot['lot_id']}", None, ops
    )
    assert exported.status == 200
    assert exported.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    assert [(r["session"], r["status"], r["resolution"]) for r in rows] == [
        (session, "written_off", "driver showed a paid receipt")
    ]
    cases = "/api/v1/operator/cases"
    bad: list[tuple[str, str, Any, int, str]] = [
        ("POST", f"{cases}/{session}/write-off", {"reason": "again"}, 409, "case"),
        ("POST", f"{cases}/{session}/write-off", {"reason": " "}, 422, "validation"),
        ("POST", f"{cases}/{session}/write-off", {}, 422, "validation"),
        ("POST", f"{cases}/nothing:1/write-off", {"reason": "x"}, 404, "unknown-case"),
        ("POST", f"{cases}/{session}/collect", {"note": "paid"}, 409, "case"),
        ("POST", f"{cases}/{session}/notify", None, 409, "case"),  # no account
        ("GET", f"{cases}?status=lost", None, 422, "validation"),
        ("GET", f"{cases}?day=yesterday", None, 422, "validation"),
        ("GET", f"{cases}?plate=--", None, 422, "validation"),
        ("GET", f"{cases}.csv?plate=%C2%AC%C2%84", None, 422, "validation"),  # no letter
        ("GET", f"{cases}.csv?day=2026-02-30", None, 422, "validation"),
        ("GET", f"{cases}?colour=red", None, 422, "validation"),
    ]
    for method, where, body, status, kind in bad:
        await problem(await call(client, method, where, body, ops), status, kind)
    await problem(
        await call(client, "GET", cases, None, await token(client, UserRole.PASSENGER)),
        403,
        "forbidden",
    )


async def test_permits_are_sold_by_operators_and_to_passengers(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops, reserved=2, permit_price=3_000_000)
    permits = f"/api/v1/operator/lots/{lot['lot_id']}/permits"
    sold = await call(client, "POST", permits, {"month": this_month(), "plate": "30A-111.11"}, ops)
    assert sold.status == 200, await sold.text()
    permit = await sold.json()
    assert (permit["plate"], permit["paid"], permit["price"]) == ("30A11111", "counter", 3_000_000)

    rider = await register(client, "postpaid_card")
    bought = await rider.post(
        "/api/v1/passenger/permits",
        {"lot_id": lot["lot_id"], "month": this_month(1), "plate": "29B-222.22"},
    )
    assert bought.status == 200, await bought.text()
    assert (await bought.json())["paid"] == "account"
    mine = await (await rider.get("/api/v1/passenger/permits")).json()
    assert [p["plate"] for p in mine["permits"]] == ["29B22222"]
    # A permit on the rider's pass: the id goes in and comes out as the string the passenger
    # API gave (ids reach 2**63, beyond a JavaScript Number).
    held = await (await rider.post("/api/v1/passenger/credential")).json()
    on_pass = await rider.post(
        "/api/v1/passenger/permits",
        {"lot_id": lot["lot_id"], "month": this_month(1), "credential_id": held["credential_id"]},
    )
    assert on_pass.status == 200, await on_pass.text()
    assert (await on_pass.json())["credential_id"] == held["credential_id"]
    await problem(
        await rider.post(
            "/api/v1/passenger/permits",
            {"lot_id": lot["lot_id"], "month": this_month(1), "credential_id": str(2**63)},
        ),
        422,
        "validation",
    )
    listed = await (await call(client, "GET", permits, None, ops)).json()
    assert sorted(p["plate"] or "" for p in listed["permits"]) == ["", "29B22222", "30A11111"]

    broke = await register(client)  # a prepaid wallet with nothing in it
    await problem(
        await broke.post(
            "/api/v1/passenger/permits",
            {"lot_id": lot["lot_id"], "month": this_month(), "plate": "29C-333.33"},
        ),
        409,
        "insufficient-funds",
    )
    month = this_month()
    bad: list[tuple[str, Any, int, str]] = [
        (permits, {"month": month}, 409, "permit"),  # no holder
        (permits, {"month": month, "plate": "30A-1", "credential_id": 5}, 409, "permit"),
        (permits, {"month": "2020-01", "plate": "30A-12345"}, 409, "permit"),
        (permits, {"month": "2026-13", "plate": "30A-12345"}, 422, "validation"),
        (permits, {"month": "soon", "plate": "30A-12345"}, 422, "validation"),
        (permits, {"month": "0000-01", "plate": "30A-12345"}, 422, "validation"),
        (permits, {"month": month, "plate": "30A-444.44"}, 409, "permit"),  # sold out
        (permits, {"month": month, "plate": "30A-5", "account_id": "nobody"}, 409,
         "permit"),
        ("/api/v1/operator/lots/nowhere/permits", {"month": month, "plate": "30A-12345"}, 404,
         "unknown-lot"),
    ]  # fmt: skip
    await call(client, "POST", permits, {"month": month, "plate": "30A-999.99"}, ops)
    for where, body, status, kind in bad:
        await problem(await call(client, "POST", where, body, ops), status, kind)
    await problem(await call(client, "GET", f"{permits}?month=May", None, ops), 422, "validation")
    await problem(
        await rider.post("/api/v1/passenger/permits", {"lot_id": "nowhere", "month": month,
                                                        "plate": "30A-12345"}),
        404,
        "unknown-lot",
    )  # fmt: skip


async def test_a_barrier_is_opened_from_afar_with_a_reason(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops, kind="car-park")
    device = await Device.enrol(client, f"barrier-{secrets.token_hex(4)}", barrier(lot["lot_id"]))
    barriers = f"/api/v1/operator/lots/{lot['lot_id']}/barriers"
    assert (await (await call(client, "GET", barriers, None, ops)).json())["barriers"] == [
        device.id
    ]
    opened = await call(
        client, "POST", f"{barriers}/{device.id}/open", {"reason": "ticket jammed"}, ops
    )
    assert opened.status == 200, await opened.text()
    command = await opened.json()
    assert (command["reason"], command["executed_at"]) == ("ticket jammed", None)
    config = await device.get("/device/v1/config")
    assert command["command_id"] in await config.text()
    today = (datetime.now(UTC) + timedelta(hours=7)).date().isoformat()
    day = await call(client, "GET", f"/api/v1/operator/lots/{lot['lot_id']}/days/{today}", None,
                     ops)  # fmt: skip
    assert [c["command_id"] for c in (await day.json())["remote_opens"]] == [command["command_id"]]
    for where, body, status, kind in [
        (f"{barriers}/{device.id}/open", {"reason": ""}, 422, "validation"),
        (f"{barriers}/{device.id}/open", {}, 422, "validation"),
        (f"{barriers}/gate-x/open", {"reason": "stuck"}, 409, "remote-open"),
        ("/api/v1/operator/lots/nowhere/barriers/b/open", {"reason": "stuck"}, 404,
         "unknown-lot"),
    ]:  # fmt: skip
        await problem(await call(client, "POST", where, body, ops), status, kind)


async def test_an_inspector_checks_plates_at_on_street_lots(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    street = await created(client, ops)  # on-street
    mall = await created(client, ops, kind="car-park")
    await call(
        client, "POST", f"/api/v1/operator/lots/{street['lot_id']}/permits",
        {"month": this_month(), "plate": "30A-777.77"}, ops,
    )  # fmt: skip
    inspector = await token(client, UserRole.INSPECTOR)
    lots = await (await call(client, "GET", "/api/v1/inspector/lots", None, inspector)).json()
    ids = [lot["lot_id"] for lot in lots["lots"]]
    assert street["lot_id"] in ids
    assert mall["lot_id"] not in ids

    async def check(plate: str, lot_id: str = street["lot_id"]) -> Any:
        return await call(
            client, "POST", "/api/v1/inspector/checks", {"lot_id": lot_id, "plate": plate},
            inspector,
        )  # fmt: skip

    permit = await check("30a 777 77")
    assert permit.status == 200, await permit.text()
    assert (await permit.json())["result"] == "permit"
    nothing = await (await check("30A-888.88")).json()
    assert (nothing["result"], nothing["plate"]) == ("nothing", "30A88888")
    await problem(await check("30A-12345", mall["lot_id"]), 422, "validation")
    await problem(await check("!!"), 422, "validation")
    await problem(await check("30A-12345", "nowhere"), 404, "unknown-lot")
    await problem(await check("\x00"), 422, "validation")
    await problem(
        await call(client, "POST", "/api/v1/inspector/checks", {"lot_id": street["lot_id"],
                                                                 "plate": "30A-12345"}, ops),
        403,
        "forbidden",
    )  # fmt: skip
