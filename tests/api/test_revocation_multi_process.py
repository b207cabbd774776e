"""A device revoked at the command line is refused by every `faregate serve` process from its
next request on, whichever process it enrolled at, and no other device is affected.

Two servers share one database, one Redis and one device key file (as a deployment does); a
gate enrols at the first and signs requests to both; `faregate devices revoke` (a separate
process, as an administrator runs it) revokes it; its next request to either server is 401
`device-revoked`, while another gate's requests still pass on both."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateways.localstripe_server import LocalStripe
from qr.keys import init_keys
from simulators.device_client import sign_request
from tests.helpers.api import (
    FEED,
    LOCAL_REDIS,
    MASTER_KEY,
    free_port,
    server_environment,
    wait_healthy,
)
from tests.helpers.devices import device_id, enrol_on_server, gate

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_backend", ["postgresql"])]
FAREGATE = [sys.executable, "-m", "faregate"]
KEYSET = "/device/v1/keyset"


@pytest.fixture
def servers(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Two servers on one database, Redis and device key; their base URLs and environment."""
    env = server_environment(db_url, localstripe_server) | {"REDIS_URL": LOCAL_REDIS}
    master = tmp_path / "device-master.key"
    master.write_text(MASTER_KEY.hex())
    started: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for n in range(2):
            data_dir = tmp_path / f"serve-{n}"
            init_keys(data_dir / "keys", datetime.now(UTC) - timedelta(days=1))
            port = free_port()
            command = [*FAREGATE, "--data-dir", str(data_dir), "serve", "--port", str(port)]
            command += ["--fare-feed", str(FEED), "--device-master-key", str(master)]
            started.append(
                subprocess.Popen(
                    [*command, "--no-worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
            wait_healthy(bases[-1], started[-1])
        yield bases, env
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            process.wait(timeout=30)


def _keyset(base: str, device: str, secret: bytes) -> httpx.Response:
    headers = sign_request(secret, device, "GET", KEYSET, at=datetime.now(UTC))
    return httpx.get(base + KEYSET, headers=headers, timeout=30)


def test_a_revoked_device_is_refused_by_every_server_at_once(
    servers: tuple[list[str], dict[str, str]], db_url: str, tmp_path: Path
) -> None:
    bases, env = servers
    stolen, other = device_id(), device_id()
    stolen_secret = enrol_on_server(db_url, bases[0], stolen, gate())
    other_secret = enrol_on_server(db_url, bases[1], other, gate("m2a_02"))
    for base in bases:  # enrolled at one, verified by both
        assert _keyset(base, stolen, stolen_secret).status_code == 200
        assert _keyset(base, other, other_secret).status_code == 200

    revoked = subprocess.run(
        [*FAREGATE, "--data-dir", str(tmp_path / "admin"), "devices", "revoke", stolen,
         "--reason", "stolen from the station"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (revoked.returncode, revoked.stdout) == (0, f"revoked {stolen}\n"), revoked.stderr

    for base in bases:
        refused = _keyset(base, stolen, stolen_secret)
        assert refused.status_code == 401
        assert refused.json()["type"] == "urn:faregate:problem:device-revoked"
        assert _keyset(base, other, other_secret).status_code == 200

    # Registered and enrolled again: a new secret works everywhere, the old one nowhere.
    renewed = enrol_on_server(db_url, bases[1], stolen, gate())
    for base in bases:
        assert _keyset(base, stolen, renewed).status_code == 200
        assert _keyset(base, stolen, stolen_secret).status_code == 401
