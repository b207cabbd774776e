"""The HTTP API under test: the app's configuration for a test, signed device clients (each
registered and enrolled as a real device is: tests/helpers/devices.py), and `faregate serve`
as a separate process (a free port, its environment, waiting until it answers).

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
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from faregate.api.context import CONFIG, UOWS, ApiConfig
from faregate.config import Settings
from faregate.gateway_runtime import StripeConfig
from gateways.localstripe_server import LocalStripe
from qr.keys import init_keys
from simulators.device_client import sign_request
from tests.helpers.devices import GATE_STOP, enrolled_client, gate
from tests.helpers.http import loopback, loopback_sync
from tests.helpers.payments import add_riders
from tests.helpers.redis import LOCAL_REDIS
from tests.helpers.waiting import until_sync
from ticketing.devices import Binding
from ticketing.services.users import ScryptCost, create_user, sign_in
from ticketing.users import UserRole

FEED = Path(__file__).resolve().parents[2] / "data" / "hanoi"
MASTER_KEY = bytes(range(32))
WEBHOOK_SECRET = "whsec_api_tests"
# The scrypt cost of the test servers' new password hashes and unknown users' sign-ins (and
# of the users tests make directly): a hash at the production cost takes about 50 ms of CPU,
# which hundreds of registrations and sign-ins add up to minutes of. What the production cost
# is, and that the server hashes at the configured cost, is tested in test_sign_in_limits.py.
TEST_COST = ScryptCost(n=2**8)

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
        settings=Settings(
            data_dir=tmp_path / "var",
            database_url=db_url,
            redis_url=redis_url,
            password_cost=TEST_COST,
        ),
        device_master_key=MASTER_KEY,
        keys_dir=tmp_path / "keys",
        fare_feed=FEED,
        gateway=StripeConfig(
            api_key=localstripe_server.api_key,
            api_base=localstripe_server.base_url,
            webhook_secret=WEBHOOK_SECRET,
        ),
        **overrides,
    )


# Journal records' times: recent (the server quarantines taps far from its clock), on the hour.
RECORDS_START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
RIDERS = 7  # the riders a test device's records are spread over
# When test devices were enrolled: before their records (the server quarantines a tap made
# before its device was enrolled).
IN_SERVICE_SINCE = RECORDS_START - timedelta(days=1)


class Device:
    """An enrolled device with its secret, signing requests for the test client. Its records
    (`record`) are taps of `RIDERS` riders registered with it (`accounts`, `credentials`)."""

    def __init__(
        self, client: Client, device_id: str, secret: bytes, key: X25519PrivateKey | None = None
    ) -> None:
        self.client = client
        self.id = device_id
        self.secret = secret
        self.key = key
        self.seq = 0
        self.accounts: list[str] = []
        self.credentials: list[int] = []

    async def add_riders(self, count: int = RIDERS) -> None:
        """Register `count` postpaid riders with one credential each, for `record`'s taps."""
        for account, ids in await add_riders(self.client.server.app[UOWS], count, credentials=1):
            self.accounts.append(account)
            self.credentials.extend(ids)

    @classmethod
    async def enrol(
        cls,
        client: Client,
        device_id: str | None = None,
        binding: Binding | None = None,
        *,
        since: datetime | None = IN_SERVICE_SINCE,
    ) -> Device:
        """A device registered at `binding` (default a gate at m2a_01) and enrolled over
        HTTP by the reference device client, in service since `since` (default: before
        its records; None: enrolled now)."""
        device_id = device_id or f"gate-{secrets.token_hex(6)}"
        async with loopback(str(client.make_url(""))) as http:
            reference = await enrolled_client(
                client.server.app[UOWS], "", device_id, binding or gate(), http=http,
                since=since,
            )  # fmt: skip
        device = cls(client, device_id, reference.secret, reference.key)
        await device.add_riders()
        return device

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
        # the device's clock is the server's (a test may stop the server's clock)
        now = self.client.server.app[CONFIG].clock
        return sign_request(
            secret or self.secret, self.id, method, path, body, at=at or now(), nonce=nonce
        )

    async def get(self, path: str, **extra: str) -> Any:
        return await self.client.get(path, headers={**self.headers("GET", path), **extra})

    async def post(self, path: str, body: bytes) -> Any:
        headers = {**self.headers("POST", path, body), "Content-Type": "application/json"}
        return await self.client.post(path, data=body, headers=headers)

    def record(self, **overrides: Any) -> dict[str, Any]:
        """The device's next tap: an entry at m2a_01 (where a default test gate is) by one of
        its riders, a second after the previous one."""
        self.seq += 1
        credential = self.credentials[self.seq % len(self.credentials)] if self.credentials else 1
        record: dict[str, Any] = {
            "device_id": self.id,
            "device_seq": self.seq,
            "credential_id": str(credential),
            "at": (RECORDS_START + timedelta(seconds=self.seq)).isoformat(),
            "route_id": "m2a",
            "stop_id": GATE_STOP,
            "kind": "entry",
        }
        record.update(overrides)
        return record


# --- staff users of the API ---------------------------------------------------------------

STAFF_PASSWORD = "correct horse battery"


async def token(client: Client, role: UserRole) -> str:
    """A bearer token of a new user of `role` (a passenger with a rider account)."""
    username = f"{role.value}-{secrets.token_hex(4)}"
    account = f"acct-{username}" if role is UserRole.PASSENGER else None
    uows = client.server.app[UOWS]
    await create_user(uows, username, STAFF_PASSWORD, role, account_id=account, cost=TEST_COST)
    return (await sign_in(uows, username, STAFF_PASSWORD)).token


async def call(client: Client, method: str, path: str, body: Any, bearer: str) -> Any:
    """A request with a JSON body (None: none) and the bearer token."""
    return await client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {bearer}"}
    )


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
        # VNPay top-ups offered (they only sign a payment address; nothing calls VNPay).
        VNPAY_TMN_CODE="FAREGATE",
        VNPAY_HASH_SECRET="vnpay-serve-test-secret",
        FAREGATE_SCRYPT_N=str(TEST_COST.n),
    )
    return env


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    """The first answer of `faregate serve` at `base` to GET /healthz, once it listens."""

    # One client for every look: a new one per look builds a TLS context (about 30 ms of CPU),
    # 20 times a second for as long as the server takes to start.
    with loopback_sync(base, timeout=2) as http:

        def answer() -> httpx.Response | None:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                return http.get("/healthz")
            except httpx.TransportError:
                return None

        return until_sync(answer, f"faregate serve answers at {base}")
