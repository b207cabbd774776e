"""Device faults against the real app over real HTTP (aiohttp's test server on a loopback port):
a gate process killed between journaling and upload loses nothing, a batch cut off part-way
stores nothing and its retry completes, a batch uploaded twice is stored once."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import StreamReader
from aiohttp.test_utils import make_mocked_request

from faregate.api.context import UOWS, ApiConfig
from faregate.api.errors import Problem
from faregate.api.registry import _read_body
from qr.decision import Reason
from qr.issue import issue_credential
from qr.keys import KeyMaterial, load_keys
from simulators.device_client import DeviceClient
from simulators.device_faults import JOURNAL_PATH, clock_skews, cut_upload, upload_twice
from simulators.faults import CLOCK_SKEW
from simulators.gate import OfflineGate
from tests.helpers.api import Client
from tests.helpers.devices import GATE_STOP, enrolled_client, gate
from tests.helpers.devices import device_id as new_device_id
from tests.helpers.http import loopback
from tests.helpers.payments import add_rider
from ticketing.unit_of_work import UnitOfWorkFactory

REPO = Path(__file__).resolve().parents[2]
# Recent (the server quarantines taps far from its clock), after the test keys came in force.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
SPACING = timedelta(minutes=5)  # beyond the passback time between one rider's taps


@dataclass
class Rider:
    account: str
    credentials: list[int]


@dataclass
class Station:
    """An enrolled gate at m2a_01, the app's keys, and a rider with three credentials."""

    base_url: str
    keys: KeyMaterial
    client: DeviceClient
    rider: Rider
    uows: UnitOfWorkFactory

    def shown(self, count: int) -> list[tuple[str, datetime]]:
        """`count` codes shown in turn by the rider's three phones, then the first again."""
        phones = [
            issue_credential(self.keys, credential_id=c, product="PAYG", now=START)
            for c in self.rider.credentials
        ]
        codes = [
            (phones[n % len(phones)].token_at(START + n * SPACING), START + n * SPACING)
            for n in range(count)
        ]
        return [*codes, (codes[0][0], codes[0][1] + timedelta(seconds=5))]  # a screenshot

    async def stored_taps(self) -> list[int]:
        async with self.uows() as uow:
            taps = await uow.taps.for_account(
                self.rider.account, START - timedelta(hours=1), START + timedelta(days=1)
            )
        return sorted(t.device_seq for t in taps)

    def batch(self, journal: OfflineGate) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return journal.journal.batch(0, route_id="m2a", stop_id=GATE_STOP, kind="entry")


@pytest.fixture
async def station(client: Client, api_config: ApiConfig) -> AsyncIterator[Station]:
    base_url = str(client.make_url("")).rstrip("/")
    uows = client.server.app[UOWS]
    account, credentials = await add_rider(uows, credentials=3)
    async with loopback(base_url, timeout=30) as http:
        device = await enrolled_client(
            uows, base_url, new_device_id(), gate(), http=http, since=START - timedelta(hours=1)
        )
        yield Station(
            base_url, load_keys(api_config.keys_dir), device, Rider(account, credentials), uows
        )


def _gate(station: Station, journal: Path, now: datetime) -> OfflineGate:
    keys = station.keys
    return OfflineGate(
        station.client.device_id, keys.keyset, keys.secure_module(), journal, clock=lambda: now
    )


async def test_a_gate_killed_between_journaling_and_upload_loses_nothing(
    station: Station, api_config: ApiConfig, tmp_path: Path
) -> None:
    journal = tmp_path / "gate.sqlite"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.gate_process",
        str(api_config.keys_dir), str(journal), station.client.device_id,
        cwd=REPO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    shown = station.shown(6)
    reasons = []
    for token, at in shown:
        process.stdin.write(json.dumps({"token": token, "at": at.isoformat()}).encode() + b"\n")
        await process.stdin.drain()
        reasons.append(json.loads(await process.stdout.readline())["reason"])
    assert reasons == ["accepted"] * 6 + ["replayed"]
    process.kill()  # journaled, not one record uploaded
    assert await process.wait() == -signal.SIGKILL

    restarted = _gate(station, journal, shown[-1][1])
    # The new process rebuilt its replay memory from the journal: the screenshot stays refused.
    assert restarted.present_text(shown[0][0], shown[-1][1]).reason is Reason.REPLAYED
    taps, refusals = station.batch(restarted)
    answer = (await station.client.upload(taps, refusals)).json()
    assert (answer["received"], answer["new"], answer["duplicate"]) == (8, 8, 0)
    assert await station.stored_taps() == [1, 2, 3, 4, 5, 6]
    # A second restart (the acknowledgement lost with the process) sends it all again: no tap
    # is stored twice.
    restarted.close()
    again = _gate(station, journal, shown[-1][1])
    answer = (await station.client.upload(*station.batch(again))).json()
    assert (answer["new"], answer["duplicate"]) == (0, 8)
    assert await station.stored_taps() == [1, 2, 3, 4, 5, 6]
    again.close()


async def test_a_batch_cut_off_part_way_stores_nothing_and_its_retry_completes(
    station: Station, tmp_path: Path
) -> None:
    gate_ = _gate(station, tmp_path / "gate.sqlite", START)
    for token, at in station.shown(4):
        gate_.present_text(token, at)
    taps, refusals = station.batch(gate_)
    sent = await cut_upload(
        station.client, station.base_url, taps, refusals, at=datetime.now(UTC), keep=0.6
    )
    assert sent > 0
    assert await station.stored_taps() == []
    answer = (await station.client.upload(taps, refusals)).json()
    assert (answer["new"], answer["duplicate"]) == (5, 0)
    assert await station.stored_taps() == [1, 2, 3, 4]
    gate_.close()


async def test_a_batch_uploaded_twice_is_stored_once(station: Station, tmp_path: Path) -> None:
    gate_ = _gate(station, tmp_path / "gate.sqlite", START)
    for token, at in station.shown(3):
        gate_.present_text(token, at)
    first, second = await upload_twice(station.client, *station.batch(gate_))
    assert (first["new"], first["duplicate"]) == (4, 0)
    assert (second["new"], second["duplicate"], second["conflicting"]) == (0, 4, [])
    assert await station.stored_taps() == [1, 2, 3]
    gate_.close()


async def test_a_cut_keeps_less_than_the_whole_body(station: Station) -> None:
    with pytest.raises(ValueError, match="below 1"):
        await cut_upload(station.client, station.base_url, [], [], at=START, keep=1.0)


def test_clock_skews_are_forty_seconds_either_way_and_seeded() -> None:
    skews = clock_skews(range(1000), 0.1, seed=7)
    assert skews == clock_skews(range(1000), 0.1, seed=7)
    assert set(skews.values()) == {CLOCK_SKEW, -CLOCK_SKEW}
    assert 50 < len(skews) < 150


async def test_a_body_cut_off_part_way_is_a_bad_request_not_a_server_error() -> None:
    """What the server does with the cut batch above once the link has dropped (it happens
    after the device has gone, so it is checked here, on the reading of the body itself)."""
    body = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    body.feed_data(b'{"records": [')
    body.set_exception(ConnectionResetError("Connection lost"))
    request = make_mocked_request("POST", JOURNAL_PATH, payload=body)
    with pytest.raises(Problem) as refused:
        await _read_body(request, 2**20)
    assert (refused.value.status, refused.value.detail) == (
        400, "the connection was lost before the body's end",
    )  # fmt: skip
