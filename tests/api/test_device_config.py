"""`GET /device/v1/config`: each device's configuration for its own binding, versioned by ETag
(304 while current); a barrier's lot and tariff versions, so a tariff change reaches a running
barrier through its configuration and prices the next stay."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from faregate.api.context import UOWS, ApiConfig
from faregate.api.routes.device_registry import DeviceConfigDocument
from gateways.localstripe_server import LocalStripe
from parking.lots import replace_tariff
from parking.services import sessions_of
from parking.sessions import Lot
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.issue import issue_credential
from qr.keys import load_keys
from simulators.barrier import OfflineBarrier, http_uploader
from simulators.device_client import DeviceClient
from simulators.device_config import DeviceSettings
from tests.helpers.api import Client, make_config
from tests.helpers.devices import TESTS, barrier, device_id, enrolled_client, gate, validator
from tests.helpers.http import loopback
from tests.helpers.parking import lot_config, open_lot, shipped
from ticketing.devices import DevicePolicy, StalePolicy
from ticketing.services.devices import revoke_device

CONFIG = "/device/v1/config"
CAR = load_tariff("hanoi-car")


async def _reference(
    client: Client, device: str, binding: Any, since: datetime | None = None
) -> DeviceClient:
    http = loopback(str(client.make_url("")))
    return await enrolled_client(
        client.server.app[UOWS], "", device, binding, http=http, since=since
    )


async def test_a_gate_gets_its_stop_and_the_policy_with_an_etag(client: Client) -> None:
    gate_client = await _reference(client, device_id(), gate("m2a_03"))
    try:
        answer = await gate_client.get(CONFIG)
        assert answer.status_code == 200
        document = answer.json()
        msgspec.convert(document, DeviceConfigDocument)  # what /openapi.json says it is
        assert answer.headers["ETag"] == f'"{document["version"]}"'
        assert document["format"] == "faregate-device-config/1"
        assert (document["kind"], document["binding"]["stop_id"]) == ("gate", "m2a_03")
        assert document["place"]["name"] == "Thái Hà"
        assert document["accepted_products"] == ["PAYG", "PASS"]
        assert document["passback_seconds"] == 120
        assert document["totp_window"] == {"before": 1, "after": 1}
        assert document["max_deny_list_age_seconds"] == 6 * 3600
        assert (document["upload_interval_seconds"], document["heartbeat_interval_seconds"]) == (
            60, 60,
        )  # fmt: skip
        assert document["barrier"] is None
        same = await gate_client.get(CONFIG, {"If-None-Match": answer.headers["ETag"]})
        assert (same.status_code, same.content) == (304, b"")
        assert same.headers["ETag"] == answer.headers["ETag"]
        assert await gate_client.configuration(document) is document  # 304: kept
        assert (await gate_client.get(CONFIG, {"If-None-Match": '"old"'})).status_code == 200
        settings = DeviceSettings.from_json(document)
        assert settings.accepted_products == frozenset({"PAYG", "PASS"})
        assert settings.policy.max_deny_list_age == timedelta(hours=6)
    finally:
        await gate_client.aclose()


async def test_a_validator_gets_its_route(client: Client) -> None:
    bus = await _reference(client, device_id("bus"), validator("bus32"))
    try:
        document = (await bus.get(CONFIG)).json()
        assert (document["kind"], document["place"]["route_id"]) == ("validator", "bus32")
        assert document["place"]["name"] == "32"
    finally:
        await bus.aclose()


@pytest.fixture
async def strict_client(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> AsyncIterator[Client]:
    """An app whose devices refuse on a stale deny list after an hour, two steps back."""
    policy = DevicePolicy(
        accepted_products=("PAYG",), totp_before=2, max_deny_list_age=timedelta(hours=1),
        stale_deny_list=StalePolicy.REFUSE,
    )  # fmt: skip
    config = make_config(tmp_path / "strict", db_url, localstripe_server, device_policy=policy)
    async with TestClient(TestServer(create_app(config))) as client:
        yield client


async def test_the_policy_is_the_servers_and_changes_the_version(
    client: Client, strict_client: Client
) -> None:
    device = device_id()
    default = await _reference(client, device, gate())
    strict = await _reference(strict_client, device_id(), gate())
    try:
        loose_doc = (await default.get(CONFIG)).json()
        strict_doc = (await strict.get(CONFIG)).json()
        assert strict_doc["accepted_products"] == ["PAYG"]
        assert strict_doc["totp_window"] == {"before": 2, "after": 1}
        assert strict_doc["stale_deny_list"] == "refuse"
        assert strict_doc["version"] != loose_doc["version"]
        settings = DeviceSettings.from_json(strict_doc)
        assert settings.policy.window.before == 2
    finally:
        await default.aclose()
        await strict.aclose()


async def test_a_revoked_device_gets_no_configuration(client: Client) -> None:
    gate_id = device_id()
    gate_client = await _reference(client, gate_id, gate())
    try:
        assert (await gate_client.get(CONFIG)).status_code == 200
        await revoke_device(client.server.app[UOWS], gate_id, by=TESTS)
        refused = await gate_client.get(CONFIG)
        assert refused.status_code == 401
        assert "version" not in refused.text
    finally:
        await gate_client.aclose()


def _dearer(document: str) -> str:
    """hanoi-car with every amount 5,000 VND dearer (the first turn 30,000 instead of 25,000),
    so that a stay at any hour of the day, day or night rate, costs more under it."""
    assert "amount = 25000" in document
    return re.sub(r"amount = (\d+)", lambda m: f"amount = {int(m[1]) + 5_000}", document)


async def test_a_tariff_change_reaches_the_barrier_and_prices_the_next_stay(
    client: Client, api_config: ApiConfig, tmp_path: Path
) -> None:
    uows = ParkingUnitOfWorkFactory(client.server.app[UOWS].engine)
    lot_id = f"lot-{device_id('x')}"
    await open_lot(uows, lot_config(lot_id, capacity=10))
    bar_id = device_id("barrier")
    now = datetime.now(UTC)
    # in service before its first stay (the backend refuses records from before its enrolment);
    # one lane for both directions, as the barrier below records entries and exits
    reference = await _reference(client, bar_id, barrier(lot_id), since=now - timedelta(hours=6))
    keys = load_keys(api_config.keys_dir)
    lane = OfflineBarrier(
        bar_id, Lot(lot_id=lot_id, tariff=CAR), keys.keyset, keys.secure_module(),
        tmp_path / "barrier.sqlite", clock=lambda: now,
    )  # fmt: skip
    try:
        held = await reference.configuration(None)
        lane.apply_settings(DeviceSettings.from_json(held))
        assert held["barrier"]["lot"]["capacity"] == 10
        assert held["barrier"]["tariff_next"] is None
        first = held["barrier"]["tariffs"][-1]["version"]

        def stay(credential: int, entry: datetime, hours: int) -> int:
            phone = issue_credential(
                keys, credential_id=credential, product="PAYG", now=now - timedelta(hours=6)
            )
            assert lane.present_entry(phone.token_at(entry), entry).opened
            leave = entry + timedelta(hours=hours)
            decision = lane.present_exit(phone.token_at(leave), leave)
            assert decision.opened
            assert decision.fee is not None
            return decision.fee.amount

        before = stay(1, now - timedelta(hours=4), 1)
        assert before == CAR.quote("car", now - timedelta(hours=4), now - timedelta(hours=3)).amount
        # A stay entered under the old tariff is still open when it changes.
        phone = issue_credential(
            keys, credential_id=3, product="PAYG", now=now - timedelta(hours=6)
        )
        entered_early = now - timedelta(minutes=30)
        assert lane.present_entry(phone.token_at(entered_early), entered_early).opened

        # The operator changes the tariff, in force from now: the barrier's configuration
        # changes (no longer a 304), and it prices stays entered from now with it.
        await replace_tariff(uows, lot_id, _dearer(shipped("hanoi-car")), by=TESTS)
        synced = await reference.configuration(held)
        assert synced is not held
        assert synced["version"] != held["version"]
        assert synced["barrier"]["tariff_in_force"] == first + 1
        lane.apply_settings(DeviceSettings.from_json(synced))

        entry = now + timedelta(minutes=1)
        after = stay(2, entry, 1)
        dearer = DeviceSettings.from_json(synced).barrier
        assert dearer is not None
        expected = dearer.in_force.tariff.quote("car", entry, entry + timedelta(hours=1)).amount
        # The same hour under the old tariff: cheaper, whatever the time of day the test runs.
        assert after == expected > CAR.quote("car", entry, entry + timedelta(hours=1)).amount
        # The stay entered before the change keeps the old prices.
        leave = now + timedelta(minutes=30)
        early = lane.present_exit(phone.token_at(leave), leave)
        assert early.fee is not None
        assert early.fee.amount == CAR.quote("car", entered_early, leave).amount

        # The backend, pricing every stay again from the lot's tariff versions, agrees.
        await lane.upload(http_uploader(reference))
        fees = {s.entry_at: s.fee for s in await sessions_of(uows, lot_id)}
        assert fees == {
            now - timedelta(hours=4): before,
            entry: after,
            entered_early: early.fee.amount,
        }
    finally:
        lane.close()
        await reference.aclose()
