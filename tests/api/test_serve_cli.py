"""`faregate serve` as a process: it answers, and SIGTERM shuts it down cleanly (exit 0, the
private Redis stopped and its socket gone); a first start on the embedded default can issue
credentials at once; a bad setting is one `Error:` line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from gateways._localstripe_launcher import PORT_FILE_NAME
from gateways.localstripe_server import LocalStripe
from qr.keys import init_keys
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
from tests.helpers.waiting import until_sync
from ticketing.db.engine import create_engine
from ticketing.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.slow


def test_serve_answers_and_stops_gracefully_on_sigterm(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    port = free_port()
    data_dir = tmp_path / "var"
    init_keys(data_dir / "keys", datetime.now(UTC))  # on a shared database nothing makes them
    command = [sys.executable, "-m", "faregate", "--data-dir", str(data_dir), "serve"]
    command += ["--port", str(port), "--fare-feed", str(FEED)]
    process = subprocess.Popen(
        command,
        env=server_environment(db_url, localstripe_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_healthy(base, process)
        assert health.json() == {
            "status": "ok", "database": "ok", "redis": "ok", "keys": "ok", "fare_feed": "ok"
        }  # fmt: skip
        assert (data_dir / "redis" / "redis.sock").exists()
        assert httpx.get(f"{base}/openapi.json").json()["openapi"] == "3.1.0"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not (data_dir / "redis" / "redis.sock").exists()


# Below, refusals of a setting that is not the database's: one backend says all they say (each
# run is a process importing the backend, about 1.4 s of CPU).
@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_serve_with_an_unreachable_redis_is_one_error_line(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    env = server_environment(db_url, localstripe_server) | {"REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "serve",
         "--port", str(free_port()), "--fare-feed", str(FEED)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: Redis at redis://127.0.0.1:1/0 does not answer")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_serve_with_stripe_key_but_no_webhook_secret_is_a_usage_error(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    env = server_environment(db_url, localstripe_server)
    del env["STRIPE_WEBHOOK_SECRET"]
    result = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "serve"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "STRIPE_WEBHOOK_SECRET is not" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_serve_with_an_unknown_gateway_kind_is_a_usage_error(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    env = server_environment(db_url, localstripe_server) | {"FAREGATE_GATEWAY": "paypal"}
    result = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "serve"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "FAREGATE_GATEWAY='paypal' is not a gateway (stripe)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_bad_fare_feed_is_one_error_line(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "serve",
         "--port", str(free_port()), "--fare-feed", str(tmp_path)],
        env=server_environment(db_url, localstripe_server),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "has no fares" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_lets_an_upload_in_flight_finish_and_store(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    """SIGTERM arrives while an upload waits for the database (the test holds a lock on the
    taps): the server stops accepting connections, lets the upload commit and answer 200, and
    only then exits 0."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "device-master.key").write_text(MASTER_KEY.hex())
    port = free_port()
    command = [sys.executable, "-m", "faregate", "--data-dir", str(data_dir), "serve"]
    command += ["--port", str(port), "--fare-feed", str(FEED)]
    process = subprocess.Popen(
        command, env=server_environment(db_url, localstripe_server), stderr=subprocess.PIPE
    )
    lock = TapsLock(db_url)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        device = "gate-inflight"
        secret = enrol_on_server(
            db_url, f"http://127.0.0.1:{port}", device, gate(), IN_SERVICE_SINCE
        )
        records = [
            {"device_id": device, "device_seq": n, "credential_id": str(n),
             "at": (RECORDS_START + timedelta(seconds=n)).isoformat(), "route_id": "m2a",
             "stop_id": "m2a_01", "kind": "entry"}
            for n in range(1, 31)
        ]  # fmt: skip
        body = json.dumps({"records": records}).encode()
        path = "/device/v1/journal"
        headers = sign_request(secret, device, "POST", path, body, at=datetime.now(UTC))
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        head += "Content-Type: application/json\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        lock.acquire()
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(head.encode() + body)
            client_port = connection.getsockname()[1]
            until_sync(
                lambda: _unread_bytes(port, client_port) == 0,
                "the server has read the upload",
            )
            connection.setblocking(False)
            with pytest.raises(BlockingIOError):  # no answer: the upload waits for the lock
                connection.recv(1)
            connection.setblocking(True)
            process.send_signal(signal.SIGTERM)
            # Stopping, the server closes its listener at once but finishes the upload.
            until_sync(lambda: _refused(port), "the stopping server refuses new connections")
            lock.release()
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["new"] == 30
        assert process.wait(timeout=30) == 0
    finally:
        lock.release()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert asyncio.run(_count_taps(db_url)) == 30


def _unread_bytes(local_port: int, remote_port: int) -> int | None:
    """What the kernel holds, not yet read by its process, for the loopback TCP socket from
    `remote_port` to `local_port` (Linux /proc/net/tcp); None when there is no such socket. A
    request sent over loopback is in the server's queue when send returns, so 0 means the
    server process has read it."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, queues = fields[1], fields[2], fields[4]
        if (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)) == (
            local_port,
            remote_port,
        ):
            return int(queues.split(":")[1], 16)
    return None


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port)).close()
    except ConnectionRefusedError:
        return True
    return False


class TapsLock:
    """Blocks inserts into `taps` and `quarantined_taps` from another connection until
    released: SQLite's write lock (BEGIN IMMEDIATE), or PostgreSQL's LOCK TABLE ... IN
    EXCLUSIVE MODE held by a thread."""

    def __init__(self, db_url: str) -> None:
        self._url = make_url(db_url)
        self._sqlite: sqlite3.Connection | None = None
        self._held = threading.Event()
        self._release = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        if self._url.get_backend_name() == "sqlite":
            self._sqlite = sqlite3.connect(str(self._url.database), isolation_level=None)
            self._sqlite.execute("BEGIN IMMEDIATE")
            return
        self._thread = threading.Thread(target=asyncio.run, args=(self._hold_postgres(),))
        self._thread.start()
        assert self._held.wait(timeout=30)

    async def _hold_postgres(self) -> None:
        schema = self._url.query["search_path"]
        assert isinstance(schema, str)
        dsn = self._url.set(drivername="postgresql", query={})
        connection = await asyncpg.connect(
            dsn.render_as_string(hide_password=False), server_settings={"search_path": schema}
        )
        try:
            async with connection.transaction():
                await connection.execute("LOCK TABLE taps, quarantined_taps IN EXCLUSIVE MODE")
                self._held.set()
                await asyncio.to_thread(self._release.wait)
        finally:
            await connection.close()

    def release(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()  # rolls back
            self._sqlite = None
        self._release.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


async def _count_taps(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            # no rider holds these credentials: the taps are stored in quarantine
            return await uow.taps.count() + await uow.journal.open_count()
    finally:
        await engine.dispose()


def test_serve_on_the_embedded_defaults_needs_one_command(tmp_path: Path) -> None:
    """No DATABASE_URL, REDIS_URL or STRIPE_*: SQLite, Redis and localstripe all private in the
    data directory, and all closed again after SIGTERM. The first start makes the device
    master key and the issuer and liveness keys, says so, and issues a credential at once
    (it answered 503 until `keys init` was run by hand); the fare feed is the shipped one."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("STRIPE_")
    }
    port = free_port()
    data_dir = tmp_path / "var"
    command = [sys.executable, "-m", "faregate", "--data-dir", str(data_dir), "serve"]
    process = subprocess.Popen([*command, "--port", str(port)], env=env, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_healthy(base, process)
        assert health.status_code == 200, health.text
        assert health.json()["keys"] == "ok"
        assert int(_issue_a_credential(base)["credential_id"]) > 0
        assert (data_dir / "faregate.db").exists()
        assert (data_dir / "redis" / "redis.sock").exists()
        stripe_port = int((data_dir / "localstripe" / PORT_FILE_NAME).read_text())
        assert (data_dir / "device-master.key").stat().st_mode & 0o077 == 0
        process.send_signal(signal.SIGTERM)
        _, console = process.communicate(timeout=30)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    said = console.decode()
    assert f"created the device master key {data_dir / 'device-master.key'}" in said
    assert f"created issuer and liveness keys in {data_dir / 'keys'}" in said
    assert not (data_dir / "redis" / "redis.sock").exists()
    with pytest.raises(ConnectionRefusedError):  # the private localstripe is stopped too
        socket.create_connection(("127.0.0.1", stripe_port)).close()


def _issue_a_credential(base: str) -> dict[str, int]:
    """Register a passenger, sign in and fetch the phone credential; the credential document."""
    who = {"username": "first-rider", "password": "a long enough password"}
    assert httpx.post(f"{base}/api/v1/passengers", json=who).status_code == 200
    token = httpx.post(f"{base}/api/v1/sessions", json=who).json()["token"]
    answer = httpx.post(
        f"{base}/api/v1/passenger/credential", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    document: dict[str, int] = answer.json()
    return document
