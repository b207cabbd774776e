"""`faregate serve` killed with SIGKILL in the middle of uploads loses no acknowledged tap, and
resending what was not acknowledged stores each tap once."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateways.localstripe_server import LocalStripe
from simulators.device_client import sign_request
from tests.helpers.api import (
    FEED,
    IN_SERVICE_SINCE,
    MASTER_KEY,
    RECORDS_START,
    free_port,
    server_environment,
    wait_healthy,
)
from tests.helpers.devices import enrol_on_server, gate
from tests.helpers.http import loopback_sync
from ticketing.db.engine import create_engine
from ticketing.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.slow
BATCHES = 150  # enough that the kill comes long before the last
BATCH = 50
KILL_AFTER = 5  # acknowledged batches
DEVICE = "gate-crash"
PATH = "/device/v1/journal"


def _batch(index: int) -> bytes:
    records = [
        {"device_id": DEVICE, "device_seq": index * BATCH + n + 1, "credential_id": str(n),
         "at": (RECORDS_START + timedelta(seconds=index * BATCH + n)).isoformat(),
         "route_id": "m2a", "stop_id": "m2a_01", "kind": "entry"}
        for n in range(BATCH)
    ]  # fmt: skip
    return json.dumps({"records": records}).encode()


def _post(http: httpx.Client, secret: bytes, body: bytes) -> httpx.Response:
    headers = sign_request(secret, DEVICE, "POST", PATH, body, at=datetime.now(UTC))
    return http.post(PATH, content=body, headers=headers)


def _start(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "faregate", "--data-dir", str(data_dir), "serve"]
    command += ["--port", str(port), "--fare-feed", str(FEED)]
    return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)


async def _stored(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            # no rider holds these credentials: every tap is stored in quarantine
            return await uow.taps.count() + await uow.journal.open_count()
    finally:
        await engine.dispose()


def test_sigkill_during_uploads_loses_no_acknowledged_tap(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "device-master.key").write_text(MASTER_KEY.hex())
    env = server_environment(db_url, localstripe_server)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _start(data_dir, port, env)
    acknowledged: set[int] = set()
    enough = threading.Event()
    try:
        wait_healthy(base, process)
        secret = enrol_on_server(db_url, base, DEVICE, gate(), IN_SERVICE_SINCE)

        def upload_all() -> None:
            with loopback_sync(base, timeout=30) as http:
                for index in range(BATCHES):
                    try:
                        response = _post(http, secret, _batch(index))
                    except httpx.TransportError:
                        return  # the server is gone
                    if response.status_code == 200:
                        acknowledged.add(index)
                        if len(acknowledged) == KILL_AFTER:
                            enough.set()  # and on uploading: the kill comes mid-stream

        uploader = threading.Thread(target=upload_all)
        uploader.start()
        assert enough.wait(timeout=60), "the server acknowledged too few uploads"
        process.send_signal(signal.SIGKILL)
        process.wait()
        uploader.join(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert KILL_AFTER <= len(acknowledged) < BATCHES
    stored = asyncio.run(_stored(db_url))
    assert stored >= len(acknowledged) * BATCH  # every acknowledged tap survived

    # The private Redis of the killed server left its socket behind: a restart replaces it.
    process = _start(data_dir, port, env)
    try:
        wait_healthy(base, process)
        results: list[dict[str, Any]] = []
        with loopback_sync(base, timeout=30) as http:
            for index in range(BATCHES):  # a device resends everything not acknowledged
                if index not in acknowledged:
                    response = _post(http, secret, _batch(index))
                    assert response.status_code == 200
                    results.append(response.json())
        assert sum(r["new"] for r in results) == BATCHES * BATCH - stored
        assert all(r["conflicting"] == [] for r in results)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert asyncio.run(_stored(db_url)) == BATCHES * BATCH
