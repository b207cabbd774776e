"""The reference device corrects its clock from the server's: a gate whose clock is hours off
is refused until it reads `GET /device/v1/clock`, then signs with the corrected time (its
heartbeat says it too); it reads the key set it verifies with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from faregate.api.context import UOWS
from qr.keys import KeySet
from simulators.device_client import DeviceClient, generate_device_key
from tests.helpers.api import Client
from tests.helpers.devices import device_id, gate, register

OFF = timedelta(hours=2)


async def test_a_gate_hours_off_signs_again_once_it_corrects_its_clock(client: Client) -> None:
    http = httpx.AsyncClient(base_url=str(client.make_url("")))
    gate_id = device_id()
    code = await register(client.server.app[UOWS], gate_id, gate("m2a_03"))
    device = await DeviceClient.enrol(
        "", gate_id, code, generate_device_key(), http=http,
        clock=lambda: datetime.now(UTC) - OFF,
    )  # fmt: skip
    try:
        refused = await device.get("/device/v1/config")
        assert refused.status_code == 401
        correction = await device.correct_clock()
        assert OFF - timedelta(minutes=1) < correction < OFF + timedelta(minutes=1)
        assert abs(device.now() - datetime.now(UTC)) < timedelta(minutes=1)
        assert (await device.get("/device/v1/config")).status_code == 200
        keyset = KeySet.from_json(await device.keyset())
        assert keyset.issuer_keys
        beat = await device.heartbeat("gate-fw 1.0")
        assert beat.status_code == 200, beat.text
    finally:
        await device.aclose()
