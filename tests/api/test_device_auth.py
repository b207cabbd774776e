"""Device request signatures: each way a request can be wrong is refused with 401 problem+json."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from faregate.api.context import UOWS
from faregate.api.device_auth import signature, string_to_sign
from faregate.api.problems import PROBLEM_JSON
from simulators.device_client import sign_request
from tests.helpers.api import Client, Device
from tests.helpers.devices import TESTS, gate, register
from ticketing.services.devices import revoke_device

KEYSET = "/device/v1/keyset"


async def _refused(response: object, detail: str, kind: str = "device-auth") -> None:
    assert response.status == 401  # type: ignore[attr-defined]
    assert response.content_type == PROBLEM_JSON  # type: ignore[attr-defined]
    assert response.headers["WWW-Authenticate"] == "FG-HMAC-SHA256"  # type: ignore[attr-defined]
    problem = await response.json()  # type: ignore[attr-defined]
    assert problem["type"] == f"urn:faregate:problem:{kind}"
    assert problem["status"] == 401
    assert detail in problem["detail"]


def test_client_signer_follows_the_servers_scheme() -> None:
    """simulators/device_client.py is written from the document, not from the server code."""
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    secret = bytes(range(32))
    headers = sign_request(secret, "gate-1", "post", "/p?q=1", b"{}", at=at, nonce="n" * 16)
    message = string_to_sign("gate-1", "POST", "/p?q=1", int(at.timestamp()), "n" * 16, b"{}")
    assert headers["X-Faregate-Signature"] == signature(secret, message)


async def test_a_signed_request_is_answered(device: Device) -> None:
    response = await device.get(KEYSET)
    assert response.status == 200
    assert (await response.json())["format"] == "faregate-keyset/1"


async def test_wrong_secret_is_refused(client: Client, device: Device) -> None:
    other = secrets.token_bytes(32)
    response = await client.get(KEYSET, headers=device.headers("GET", KEYSET, secret=other))
    await _refused(response, "signature does not match")


async def test_replayed_nonce_is_refused(client: Client, device: Device) -> None:
    headers = device.headers("GET", KEYSET)
    assert (await client.get(KEYSET, headers=headers)).status == 200
    await _refused(await client.get(KEYSET, headers=headers), "nonce already used")


@pytest.mark.parametrize("offset", [timedelta(minutes=-5, seconds=-30), timedelta(minutes=6)])
async def test_stale_or_future_timestamp_is_refused(
    client: Client, device: Device, offset: timedelta
) -> None:
    headers = device.headers("GET", KEYSET, at=datetime.now(UTC) + offset)
    await _refused(await client.get(KEYSET, headers=headers), "outside ±300 s")


async def test_clock_within_the_allowed_skew_is_accepted(client: Client, device: Device) -> None:
    headers = device.headers("GET", KEYSET, at=datetime.now(UTC) - timedelta(minutes=4))
    assert (await client.get(KEYSET, headers=headers)).status == 200


async def test_altered_body_is_refused(client: Client, device: Device) -> None:
    body = json.dumps({"records": [device.record()]}).encode()
    headers = device.headers("POST", "/device/v1/journal", body)
    altered = body.replace(b'"entry"', b'"exit"')
    headers["Content-Type"] = "application/json"
    response = await client.post("/device/v1/journal", data=altered, headers=headers)
    await _refused(response, "signature does not match")


async def test_altered_path_or_query_is_refused(client: Client, device: Device) -> None:
    headers = device.headers("GET", "/device/v1/deny-list/delta?since=0")
    response = await client.get("/device/v1/deny-list/delta?since=1", headers=headers)
    await _refused(response, "signature does not match")


async def test_another_devices_id_with_my_secret_is_refused(
    client: Client, device: Device, new_device: Callable[[], Awaitable[Device]]
) -> None:
    victim = await new_device()
    headers = device.headers("GET", KEYSET)
    headers["X-Faregate-Device"] = victim.id
    await _refused(await client.get(KEYSET, headers=headers), "signature does not match")


async def test_a_device_id_never_registered_is_refused(client: Client, device: Device) -> None:
    headers = sign_request(device.secret, "gate-never-seen", "GET", KEYSET, at=datetime.now(UTC))
    await _refused(
        await client.get(KEYSET, headers=headers), "gate-never-seen is not registered",
        "device-unknown",
    )  # fmt: skip


async def test_a_registered_device_not_yet_enrolled_is_refused(client: Client) -> None:
    pending = f"gate-{secrets.token_hex(4)}"
    await register(client.server.app[UOWS], pending, gate())
    headers = sign_request(bytes(32), pending, "GET", KEYSET, at=datetime.now(UTC))
    await _refused(await client.get(KEYSET, headers=headers), "not enrolled", "device-unknown")


async def test_a_revoked_device_is_refused_and_no_other(
    client: Client, device: Device, new_device: Callable[[], Awaitable[Device]]
) -> None:
    other = await new_device()
    assert (await device.get(KEYSET)).status == 200
    await revoke_device(client.server.app[UOWS], device.id, by=TESTS, reason="stolen")
    await _refused(await device.get(KEYSET), f"{device.id} was revoked", "device-revoked")
    assert (await other.get(KEYSET)).status == 200


@pytest.mark.parametrize(
    ("header", "value", "detail"),
    [
        ("X-Faregate-Signature", None, "missing X-Faregate-Signature"),
        ("X-Faregate-Device", None, "missing X-Faregate-Device"),
        ("X-Faregate-Nonce", "short", "malformed X-Faregate-Nonce"),
        ("X-Faregate-Timestamp", "yesterday", "malformed X-Faregate-Timestamp"),
        ("X-Faregate-Signature", "zz", "malformed X-Faregate-Signature"),
    ],
)
async def test_missing_or_malformed_headers_are_refused(
    client: Client, device: Device, header: str, value: str | None, detail: str
) -> None:
    headers = device.headers("GET", KEYSET)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    await _refused(await client.get(KEYSET, headers=headers), detail)


async def test_a_refused_request_does_not_burn_the_nonce(client: Client, device: Device) -> None:
    good = device.headers("GET", KEYSET, nonce="fixed-nonce-0123456789")
    forged = {**good, "X-Faregate-Signature": "0" * 64}
    await _refused(await client.get(KEYSET, headers=forged), "signature does not match")
    assert (await client.get(KEYSET, headers=good)).status == 200
