"""schemathesis against a running `faregate serve`: bounded, derandomized examples of every
operation in /openapi.json, unsigned and signed with a real device secret. No 5xx, and every
response matches the document (status, content type, body schema); invalid data is refused."""

from __future__ import annotations

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

from faregate.api.device_auth import device_secret
from gateways.localstripe_server import LocalStripe
from qr.keys import init_keys
from simulators.device_client import sign_request

from .conftest import FEED, MASTER_KEY, free_port, server_environment, wait_healthy

pytestmark = pytest.mark.slow
EXAMPLES = 15
DEVICE = "gate-fuzz"


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


def _signed_headers(case: Case, base: str) -> dict[str, str]:
    """Sign what requests will send: the path with urlencoded params and json.dumps body."""
    kwargs = case.as_transport_kwargs(base_url=base)
    path = urlsplit(kwargs["url"]).path
    if kwargs.get("params"):
        path += "?" + urlencode(kwargs["params"], doseq=True)
    body = b""
    if "json" in kwargs:
        body = json.dumps(kwargs["json"], allow_nan=False).encode()
    secret = device_secret(MASTER_KEY, DEVICE)
    return sign_request(secret, DEVICE, case.method, path, body, at=datetime.now(UTC))


def test_every_operation_keeps_to_the_document(server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    # Valid-looking data may still be refused for reasons the schema cannot say (a signature,
    # another device's records), so "positive data is accepted" does not apply.
    skipped = [positive_data_acceptance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Case) -> None:
            case.call_and_validate(base_url=server, excluded_checks=skipped)
            signed = _signed_headers(case, server)
            case.call_and_validate(base_url=server, headers=signed, excluded_checks=skipped)

        run()
