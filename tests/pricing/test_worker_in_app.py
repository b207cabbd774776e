"""`faregate serve`'s app prices uploads with its in-process worker (unless told not to) and
exports the pricing lag."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from faregate.api import app as app_module
from faregate.api.app import create_app
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import Device, make_config
from tests.helpers.devices import gate
from tests.helpers.pricing import HANOI, add_riders, priced_versions, ride
from tests.helpers.waiting import until
from ticketing.taps import Tap
from ticketing.unit_of_work import UnitOfWorkFactory

JOURNAL = "/device/v1/journal"


# A recent day: the server quarantines taps far from its clock.
DAY = datetime.now(HANOI).date() - timedelta(days=2)


def _records(device: Device, taps: list[Tap], credential: int) -> bytes:
    records = []
    for tap in taps:
        device.seq += 1
        records.append(
            {
                "device_id": device.id,
                "device_seq": device.seq,
                "credential_id": str(credential),
                "at": tap.at.isoformat(),
                "route_id": tap.route_id,
                "stop_id": tap.stop_id,
                "kind": tap.kind.value,
            }
        )
    return json.dumps({"records": records}).encode()


async def _upload_a_ride(client: TestClient[object, object], uow_factory: UnitOfWorkFactory) -> str:
    """A rider's ride, tapped at the gates of its two stations with the rider's credential."""
    [rider] = await add_riders(uow_factory, 1)
    async with uow_factory() as uow:
        [credential] = await uow.riders.credentials_for(rider)
    entry, exit_ = ride(rider, DAY)
    for tap in (entry, exit_):
        device = await Device.enrol(client, binding=gate(tap.stop_id))
        body = _records(device, [tap], credential.credential_id)
        response = await device.post(JOURNAL, body)
        assert response.status == 200, await response.text()
        assert (await response.json())["quarantined"] == []
    return rider


async def test_the_app_prices_an_upload_in_process_and_exports_the_lag(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe, uow_factory: UnitOfWorkFactory
) -> None:
    config = make_config(tmp_path, db_url, localstripe_server)
    async with TestClient(TestServer(create_app(config))) as client:
        rider = await _upload_a_ride(client, uow_factory)
        await until(lambda: priced_versions(uow_factory), "the app's worker prices the ride")
        assert dict(await priced_versions(uow_factory)) == {(rider, DAY): 1}
        metrics = await (await client.get("/metrics")).text()
    assert "faregate_pricing_lag_seconds" in metrics


async def test_without_the_worker_uploads_stay_queued(
    tmp_path: Path,
    db_url: str,
    localstripe_server: LocalStripe,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[object] = []

    async def worker(*args: object, **kwargs: object) -> None:
        started.append(args)

    # Whether the app starts a worker is decided as it starts: no waiting for one not to price.
    monkeypatch.setattr(app_module, "run_worker", worker)
    config = make_config(tmp_path, db_url, localstripe_server, pricing_worker=False)
    async with TestClient(TestServer(create_app(config))) as client:
        rider = await _upload_a_ride(client, uow_factory)
        async with uow_factory() as uow:
            assert (rider, DAY) in await uow.pricing_queue.queued()
        lines = (await (await client.get("/metrics")).text()).splitlines()
    assert started == []
    assert not await priced_versions(uow_factory)
    # The lag is still measured and exported (a separate `faregate worker` prices).
    assert sum(line.startswith("faregate_pricing_lag_seconds ") for line in lines) == 1
