"""schemathesis against a running `faregate serve`, one server and one test a database backend:
a bounded number of examples of every operation in /openapi.json (the same few every run under
`make test`'s Hypothesis profile, more and new ones in developers' runs), unsigned, signed with a
real device secret and, on bearer routes, with each role's token. No 5xx, and every response
matches the document (status, content type, body schema); invalid data is refused."""

from __future__ import annotations

import asyncio
import json
import secrets
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
# Examples an operation. Each example of a bearer route is sent six times (unsigned, signed,
# each role's token). `make test` (the ci profile: derandomized, the same examples every run)
# draws 5: every route still gets each token and a signed request, on the simplest values and
# on drawn ones; 15 cost about three times the CPU. Developers' runs draw 15, new ones each
# run, and so reach rarer values (a day of 0001-01-01 on a finance route, say).
EXAMPLES = {"ci": 5}
DEV_EXAMPLES = 15
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
def device(server: str, db_url: str) -> tuple[str, bytes]:
    """A gate enrolled at the server: its id (random, as its rate limit and nonces in the
    shared Redis are other runs' too) and its secret."""
    device_id = f"gate-fuzz-{secrets.token_hex(4)}"
    return device_id, enrol_on_server(db_url, server, device_id, gate())


def _signed_headers(case: Case, base: str, device: tuple[str, bytes]) -> dict[str, str]:
    """Sign what requests will send: the path with urlencoded params and json.dumps body."""
    kwargs = case.as_transport_kwargs(base_url=base)
    path = urlsplit(kwargs["url"]).path
    if kwargs.get("params"):
        path += "?" + urlencode(kwargs["params"], doseq=True)
    body = b""
    if "json" in kwargs:
        body = json.dumps(kwargs["json"], allow_nan=False).encode()
    device_id, secret = device
    return sign_request(secret, device_id, case.method, path, body, at=datetime.now(UTC))


def test_every_operation_keeps_to_the_document(
    server: str,
    tokens: list[str],
    device: tuple[str, bytes],
    session: ManagedCookiesSession,
) -> None:
    examples = EXAMPLES.get(settings.get_current_profile_name(), DEV_EXAMPLES)
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    # Valid-looking data may still be refused for reasons the schema cannot say (a signature,
    # another device's records), so "positive data is accepted" does not apply.
    skipped = [positive_data_acceptance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        # Each role's token on bearer routes (its own and the others': 200/501 or 403); not on
        # sign-out, which would revoke the token for the rest of the run.
        bearer = "security" in operation.definition.raw and operation.method.upper() != "DELETE"
        role_headers = [{"Authorization": f"Bearer {t}"} for t in tokens] if bearer else []

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Case) -> None:
            calls = {"base_url": server, "session": session, "excluded_checks": skipped}
            case.call_and_validate(**calls)
            signed = _signed_headers(case, server, device)
            case.call_and_validate(headers=signed, **calls)
            for headers in role_headers:  # noqa: B023 (run() is called in this iteration)
                case.call_and_validate(headers=headers, **calls)

        run()
