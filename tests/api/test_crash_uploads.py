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

from faregate.api.device_auth import device_secret
from gateways.localstripe_server import LocalStripe
from simulators.device_client import sign_request
from ticketing.db.engine import create_engine
from ticketing.unit_of_work import UnitOfWorkFactory

from .conftest import FEED, MASTER_KEY, free_port, server_environment, wait_healthy

pytestmark = pytest.mark.slow
BATCHES = 400
BATCH = 50
DEVICE = "gate-crash"
PATH = "/device/v1/journal"


def _batch(index: int) -> bytes:
    start = datetime(2026, 11, 24, 1, tzinfo=UTC)
    records = [
        {"device_id": DEVICE, "device_seq": index * BATCH + n + 1, "credential_id": n,
         "account_id": f"acct-{n % 9}", "at": (start + timedelta(seconds=index * BATCH + n))
         .isoformat(), "route_id": "M2A", "stop_id": "M2A-01", "kind": "entry"}
        for n in range(BATCH)
    ]  # fmt: skip
    return json.dumps({"records": records}).encode()


def _post(base: str, body: bytes) -> httpx.Response:
    secret = device_secret(MASTER_KEY, DEVICE)
    headers = sign_request(secret, DEVICE, "POST", PATH, body, at=datetime.now(UTC))
    return httpx.post(base + PATH, content=body, headers=headers, timeout=30)


def _start(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "faregate", "--data-dir", str(data_dir), "serve"]
    command += ["--port", str(port), "--fare-feed", str(FEED)]
    return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)


async def _stored(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            return await uow.taps.count()
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
    try:
        wait_healthy(base, process)

        def upload_all() -> None:
            for index in range(BATCHES):
                try:
                    response = _post(base, _batch(index))
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 200:
                    acknowledged.add(index)

        uploader = threading.Thread(target=upload_all)
        uploader.start()
        while len(acknowledged) < 5:
            assert uploader.is_alive(), "uploads finished before the kill"
            threading.Event().wait(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        uploader.join(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert 5 <= len(acknowledged) < BATCHES
    stored = asyncio.run(_stored(db_url))
    assert stored >= len(acknowledged) * BATCH  # every acknowledged tap survived

    # The private Redis of the killed server left its socket behind: a restart replaces it.
    process = _start(data_dir, port, env)
    try:
        wait_healthy(base, process)
        results: list[dict[str, Any]] = []
        for index in range(BATCHES):  # a device resends everything not acknowledged
            if index not in acknowledged:
                response = _post(base, _batch(index))
                assert response.status_code == 200
                results.append(response.json())
        assert sum(r["new"] for r in results) == BATCHES * BATCH - stored
        assert all(r["conflicting"] == [] for r in results)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert asyncio.run(_stored(db_url)) == BATCHES * BATCH
