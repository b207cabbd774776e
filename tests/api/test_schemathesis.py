"""schemathesis against a running `faregate serve`: a bounded number of examples of every
operation in /openapi.json (the same ones every run under `make test`'s Hypothesis profile, new
ones in developers' runs), unsigned and signed with a real device secret. No 5xx, and every
response matches the document (status, content type, body schema); invalid data is refused."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.transport.requests import ManagedCookiesSession

from faregate.database import open_database
from gateways.localstripe_server import LocalStripe
from qr.keys import init_keys
from simulators.device_client import sign_request
from tests.helpers.api import (
    FEED,
    MASTER_KEY,
    TEST_COST,
    free_port,
    server_environment,
    wait_healthy,
)
from tests.helpers.devices import enrol_on_server, gate
from tests.helpers.http import loopback_sync
from ticketing.services.passengers import register_passenger
from ticketing.services.users import create_user
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import UserRole

pytestmark = pytest.mark.slow
EXAMPLES = 15
# The operations are fuzzed in shards, each its own test against its own server, so that
# pytest-xdist spreads them over its workers instead of one worker fuzzing every route alone
# at the end of the run.
SHARDS = 3
DEVICE = "gate-fuzz"
PASSWORD = "fuzzing password"


@pytest.fixture
def server(tmp_path: Path, db_url: str, localstripe_server: LocalStripe) -> Iterator[str]:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "device-master.key").write_text(MASTER_KEY.hex())
    init_keys(data_dir / "keys", datetime.now(UTC) - timedelta(days=1))
    port = free_port()
    command = [sys.executable, "-m", "faregate", "--data-dir", str(data_dir), "serve"]
    command += ["--port", str(port), "--fare-feed", str(FEED)]
    process = subprocess.Popen(
        command,
        env=server_environment(db_url, localstripe_server),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


async def _add_users(db_url: str) -> None:
    engine = await open_database(db_url)
    try:
        uows = UnitOfWorkFactory(engine)
        for role in UserRole:
            if role is UserRole.PASSENGER:  # as the API registers one: with its rider account
                await register_passenger(
                    uows, "fuzz-passenger", PASSWORD, at=datetime.now(UTC), cost=TEST_COST
                )
                continue
            await create_user(uows, f"fuzz-{role.value}", PASSWORD, role, cost=TEST_COST)
    finally:
        await engine.dispose()


@pytest.fixture
def tokens(server: str, db_url: str) -> list[str]:
    """A bearer token of each role (users made in the server's database)."""
    asyncio.run(_add_users(db_url))
    found = []
    with loopback_sync(server) as http:
        for role in UserRole:
            answer = http.post(
                "/api/v1/sessions", json={"username": f"fuzz-{role.value}", "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            found.append(answer.json()["token"])
    return found


@pytest.fixture
def session() -> Iterator[ManagedCookiesSession]:
    """One keep-alive session for the fuzz's requests. Without one, schemathesis opens a new
    session and connection per request and looks up proxy settings in the environment each
    time, which was about half of the client's CPU. It drops the cookies a response sets
    after each request, as a fresh session would; loopback needs no proxy."""
    with ManagedCookiesSession() as reused:
        reused.trust_env = False
        yield reused


@pytest.fixture
def device_secret(server: str, db_url: str) -> bytes:
    """The secret of DEVICE, enrolled at the server."""
    return enrol_on_server(db_url, server, DEVICE, gate())


def _signed_headers(case: Case, base: str, secret: bytes) -> dict[str, str]:
    """Sign what requests will send: the path with urlencoded params and json.dumps body."""
    kwargs = case.as_transport_kwargs(base_url=base)
    path = urlsplit(kwargs["url"]).path
    if kwargs.get("params"):
        path += "?" + urlencode(kwargs["params"], doseq=True)
    body = b""
    if "json" in kwargs:
        body = json.dumps(kwargs["json"], allow_nan=False).encode()
    return sign_request(secret, DEVICE, case.method, path, body, at=datetime.now(UTC))


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_keeps_to_the_document(
    server: str,
    tokens: list[str],
    device_secret: bytes,
    session: ManagedCookiesSession,
    shard: int,
) -> None:
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    # Valid-looking data may still be refused for reasons the schema cannot say (a signature,
    # another device's records), so "positive data is accepted" does not apply.
    skipped = [positive_data_acceptance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations[shard::SHARDS]:
        # Each role's token on bearer routes (its own and the others': 200/501 or 403); not on
        # sign-out, which would revoke the token for the rest of the run.
        bearer = "security" in operation.definition.raw and operation.method.upper() != "DELETE"
        role_headers = [{"Authorization": f"Bearer {t}"} for t in tokens] if bearer else []

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Case) -> None:
            calls = {"base_url": server, "session": session, "excluded_checks": skipped}
            case.call_and_validate(**calls)
            signed = _signed_headers(case, server, device_secret)
            case.call_and_validate(headers=signed, **calls)
            for headers in role_headers:  # noqa: B023 (run() is called in this iteration)
                case.call_and_validate(headers=headers, **calls)

        run()
