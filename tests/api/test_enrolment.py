"""`POST /device/v1/enrol` with the reference device: a code buys one secret once; every bad
request is a 4xx problem naming why, never a 500; a revoked device enrols again for a new
secret and its old one stays dead."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from faregate.api.app import create_app
from faregate.api.context import UOWS
from faregate.api.problems import PROBLEM_JSON
from gateways.localstripe_server import LocalStripe
from parking.unit_of_work import ParkingUnitOfWorkFactory
from simulators.device_client import (
    ENROL_PATH,
    DeviceClient,
    enrolment_body,
    generate_device_key,
    public_key_hex,
    sign_request,
)
from tests.helpers.api import Client, make_config
from tests.helpers.devices import TESTS, barrier, device_id, gate, hanoi_feed, register
from tests.helpers.http import loopback
from tests.helpers.parking import lot_config, open_lot
from ticketing.db.device_models import DeviceRow
from ticketing.devices import Direction
from ticketing.services.devices import add_device, places_of, revoke_device

KEYSET = "/device/v1/keyset"
JSON = {"Content-Type": "application/json"}


async def test_an_enrolled_device_signs_with_its_new_secret(client: Client) -> None:
    uows = client.server.app[UOWS]
    gate_id = device_id()
    code = await register(uows, gate_id, gate("m2a_03"))
    key = generate_device_key()
    answer = await client.post(ENROL_PATH, headers=JSON, data=enrolment_body(gate_id, code, key))
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert set(body) == {
        "device_id", "secret", "kind", "stop_id", "route_id", "lot_id", "direction",
        "generation", "enrolled_at",
    }  # fmt: skip
    assert (body["device_id"], body["kind"], body["stop_id"], body["generation"]) == (
        gate_id, "gate", "m2a_03", 1,
    )  # fmt: skip
    secret = bytes.fromhex(body["secret"])
    signed = sign_request(secret, gate_id, "GET", KEYSET, at=datetime.now(UTC))
    assert (await client.get(KEYSET, headers=signed)).status == 200

    again = await client.post(ENROL_PATH, headers=JSON, data=enrolment_body(gate_id, code, key))
    assert again.status == 403
    assert (await again.json())["type"] == "urn:faregate:problem:enrolment-refused"


async def test_revoked_then_enrolled_again_gets_a_new_secret(client: Client) -> None:
    uows = client.server.app[UOWS]
    base = str(client.make_url(""))
    gate_id = device_id()
    async with loopback(base) as http:
        first = await DeviceClient.enrol(
            "", gate_id, await register(uows, gate_id, gate()), generate_device_key(), http=http
        )
        assert (await first.get(KEYSET)).status_code == 200
        await revoke_device(uows, gate_id, by=TESTS)
        refused = await first.get(KEYSET)
        assert refused.status_code == 401
        assert refused.json()["type"] == "urn:faregate:problem:device-revoked"
        second = await DeviceClient.enrol(
            "", gate_id, await register(uows, gate_id, gate()), generate_device_key(), http=http
        )
        assert second.secret != first.secret
        assert (await second.get(KEYSET)).status_code == 200
        assert (await first.get(KEYSET)).status_code == 401  # the old secret stays dead


async def test_a_barrier_enrols_with_its_lot_and_lane(client: Client) -> None:
    uows = client.server.app[UOWS]
    lot = f"lot-{device_id('x')}"
    await open_lot(ParkingUnitOfWorkFactory(uows.engine), lot_config(lot, capacity=5))
    bar = device_id("barrier")
    code = await register(uows, bar, barrier(lot, Direction.EXIT))
    enrolment = enrolment_body(bar, code, generate_device_key())
    answer = await client.post(ENROL_PATH, headers=JSON, data=enrolment)
    body = await answer.json()
    assert (body["kind"], body["lot_id"], body["direction"], body["stop_id"]) == (
        "barrier", lot, "exit", None,
    )  # fmt: skip


def _body(**fields: Any) -> bytes:
    base = {
        "device_id": "gate-x",
        "enrolment_code": "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA",
        "public_key": public_key_hex(generate_device_key()),
    }
    return json.dumps({**base, **fields}).encode()


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"", 400, ""),
        (b"{not json", 400, ""),
        (_body(device_id="gate 1"), 422, "$.device_id"),
        (_body(public_key="zz" * 32), 422, "$.public_key"),
        (_body(public_key="00" * 31), 422, "$.public_key"),
        (_body(public_key="00" * 32), 422, "not a usable X25519 public key"),
        (_body(enrolment_code=""), 422, "$.enrolment_code"),
        (_body(extra=1), 422, "unknown field `extra`"),
        (_body(), 403, "not recognised"),
        (_body(enrolment_code="x" * 64), 403, "not recognised"),
    ],
)
async def test_bad_enrolments_are_problems(
    client: Client, body: bytes, status: int, detail: str
) -> None:
    answer = await client.post(ENROL_PATH, headers=JSON, data=body)
    assert answer.status == status, await answer.text()
    assert answer.content_type == PROBLEM_JSON
    assert detail in (await answer.json())["detail"]


async def test_an_expired_code_is_refused_and_says_so(client: Client) -> None:
    uows = client.server.app[UOWS]
    gate_id = device_id()
    enrolment = await add_device(
        uows, gate_id, gate(), places=places_of(hanoi_feed(), ()), by=TESTS,
        valid_for=timedelta(minutes=1),
    )  # fmt: skip
    async with uows() as uow:  # a minute later, in effect
        await uow.session.execute(
            update(DeviceRow)
            .where(DeviceRow.device_id == gate_id)
            .values(code_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await uow.commit()
    answer = await client.post(
        ENROL_PATH,
        headers=JSON,
        data=enrolment_body(gate_id, enrolment.code, generate_device_key()),
    )
    assert answer.status == 403
    assert "expired at" in (await answer.json())["detail"]


async def test_enrolment_attempts_are_rate_limited_per_device(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    # The server's clock stands still: the limit counts in fixed one-minute windows, and eleven
    # requests on a busy machine could otherwise straddle two of them.
    now = datetime.now(UTC)
    config = make_config(tmp_path, db_url, localstripe_server, clock=lambda: now)
    gate_id = device_id()
    async with TestClient(TestServer(create_app(config))) as client:
        statuses = [
            (await client.post(ENROL_PATH, headers=JSON, data=_body(device_id=gate_id))).status
            for _ in range(11)
        ]
    assert statuses == [403] * 10 + [429]
