"""The HTTP API under test: the app's configuration for a test, signed device clients, and
`faregate serve` as a separate process (a free port, its environment, waiting until it answers).

Device ids are random per test, so nonces and rate-limit windows in the shared Redis never
collide across tests, test processes or concurrent runs.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiohttp.test_utils import TestClient

from faregate.api.context import ApiConfig, StripeConfig
from faregate.api.device_auth import device_secret
from faregate.config import Settings
from gateways.localstripe_server import LocalStripe
from qr.keys import init_keys
from simulators.device_client import sign_request
from tests.helpers.redis import LOCAL_REDIS
from tests.helpers.waiting import until_sync

FEED = Path(__file__).resolve().parents[2] / "data" / "hanoi"
MASTER_KEY = bytes(range(32))
WEBHOOK_SECRET = "whsec_api_tests"

Client = TestClient[Any, Any]


def make_config(
    tmp_path: Path,
    db_url: str,
    localstripe_server: LocalStripe,
    *,
    redis_url: str | None = LOCAL_REDIS,
    **overrides: Any,
) -> ApiConfig:
    init_keys(tmp_path / "keys", datetime.now(UTC) - timedelta(days=1))
    return ApiConfig(
        settings=Settings(data_dir=tmp_path / "var", database_url=db_url, redis_url=redis_url),
        device_master_key=MASTER_KEY,
        keys_dir=tmp_path / "keys",
        fare_feed=FEED,
        stripe=StripeConfig(
            api_key=localstripe_server.api_key,
            api_base=localstripe_server.base_url,
            webhook_secret=WEBHOOK_SECRET,
        ),
        **overrides,
    )


class Device:
    """A device with its derived secret, signing requests for the test client."""

    def __init__(self, client: Client, device_id: str | None = None) -> None:
        self.client = client
        self.id = device_id or f"gate-{secrets.token_hex(6)}"
        self.secret = device_secret(MASTER_KEY, self.id)
        self.seq = 0

    def headers(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        at: datetime | None = None,
        nonce: str | None = None,
        secret: bytes | None = None,
    ) -> dict[str, str]:
        return sign_request(
            secret or self.secret, self.id, method, path, body,
            at=at or datetime.now(UTC), nonce=nonce,
        )  # fmt: skip

    async def get(self, path: str, **extra: str) -> Any:
        return await self.client.get(path, headers={**self.headers("GET", path), **extra})

    async def post(self, path: str, body: bytes) -> Any:
        return await self.client.post(path, data=body, headers=self.headers("POST", path, body))

    def record(self, **overrides: Any) -> dict[str, Any]:
        self.seq += 1
        record: dict[str, Any] = {
            "device_id": self.id,
            "device_seq": self.seq,
            "credential_id": 1000 + self.seq,
            "account_id": f"acct-{self.seq % 7}",
            "at": (
                datetime(2026, 11, 24, 1, 0, tzinfo=UTC) + timedelta(seconds=self.seq)
            ).isoformat(),
            "route_id": "M2A",
            "stop_id": "M2A-01",
            "kind": "entry",
        }
        record.update(overrides)
        return record


# --- `faregate serve` as a separate process ---------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(db_url: str, localstripe_server: LocalStripe) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DATABASE_URL=db_url,
        STRIPE_API_KEY=localstripe_server.api_key,
        STRIPE_API_BASE=localstripe_server.base_url,
        STRIPE_WEBHOOK_SECRET="whsec_serve_test",
    )
    return env


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    """The first answer of `faregate serve` at `base` to GET /healthz, once it listens."""

    def answer() -> httpx.Response | None:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.TransportError:
            return None

    return until_sync(answer, f"faregate serve answers at {base}")
