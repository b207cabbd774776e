"""`faregate serve`'s app prices uploads with its in-process worker (unless told not to) and
exports the pricing lag."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from gateways.localstripe_server import LocalStripe
from tests.api.conftest import Device, make_config
from ticketing.taps import Tap
from ticketing.unit_of_work import UnitOfWorkFactory

from .test_worker import DAYS, add_riders, priced_versions, ride

JOURNAL = "/device/v1/journal"


def _records(device: Device, taps: list[Tap]) -> bytes:
    records = []
    for tap in taps:
        device.seq += 1
        records.append(
            {
                "device_id": device.id,
                "device_seq": device.seq,
                "credential_id": tap.credential_id,
                "account_id": tap.account_id,
                "at": tap.at.isoformat(),
                "route_id": tap.route_id,
                "stop_id": tap.stop_id,
                "kind": tap.kind.value,
            }
        )
    return json.dumps({"records": records}).encode()


async def _upload_a_ride(client: TestClient[object, object], uow_factory: UnitOfWorkFactory) -> str:
    [rider] = await add_riders(uow_factory, 1)
    device = Device(client)
    response = await device.post(JOURNAL, _records(device, ride(rider, DAYS[0])))
    assert response.status == 200, await response.text()
    return rider


async def test_the_app_prices_an_upload_in_process_and_exports_the_lag(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe, uow_factory: UnitOfWorkFactory
) -> None:
    config = make_config(tmp_path, db_url, localstripe_server)
    async with TestClient(TestServer(create_app(config))) as client:
        rider = await _upload_a_ride(client, uow_factory)
        for _ in range(100):
            if await priced_versions(uow_factory):
                break
            await asyncio.sleep(0.1)
        assert dict(await priced_versions(uow_factory)) == {(rider, DAYS[0]): 1}
        metrics = await (await client.get("/metrics")).text()
    assert "faregate_pricing_lag_seconds" in metrics


async def test_without_the_worker_uploads_stay_queued(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe, uow_factory: UnitOfWorkFactory
) -> None:
    config = make_config(tmp_path, db_url, localstripe_server, pricing_worker=False)
    async with TestClient(TestServer(create_app(config))) as client:
        rider = await _upload_a_ride(client, uow_factory)
        await asyncio.sleep(1.5)
        async with uow_factory() as uow:
            assert (rider, DAYS[0]) in await uow.pricing_queue.queued()
        assert not await priced_versions(uow_factory)
        lines = (await (await client.get("/metrics")).text()).splitlines()
    [lag] = [line for line in lines if line.startswith("faregate_pricing_lag_seconds ")]
    assert float(lag.split()[1]) >= 0.0
