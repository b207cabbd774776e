"""Device request signatures: every gate and barrier signs each request with its own secret.

The scheme (docs/DEVICE-API.md is the reference devices implement):

    string to sign = "FG-HMAC-SHA256\n" device_id "\n" METHOD "\n" path-with-query "\n"
                     timestamp "\n" nonce "\n" hex(SHA-256(body))
    X-Faregate-Signature = hex(HMAC-SHA256(device secret, string to sign))

sent with `X-Faregate-Device`, `X-Faregate-Timestamp` (Unix seconds) and `X-Faregate-Nonce`
(16-64 of `A-Z a-z 0-9 _ -`). The path is the request target exactly as sent.

Each device has its own random secret, given to it once at enrolment
(`ticketing.services.devices.enrol_device`) and kept in the device registry sealed under the
server's device key (`ticketing.device_secrets`; the key is 32 random bytes in a 0600 file that
every server process of a deployment shares). The guard reads the device's registry row on
every request, so a device revoked on one server process is refused by every other from its
next request on, and a device id that was never enrolled is refused.

Checks, in order (each refusal a 401 problem): headers present and well-formed; timestamp
within ±5 minutes of the server clock; the device registered, enrolled and not revoked;
signature matches (constant-time compare); nonce not seen before for this device. The nonce
is remembered in Redis (SET NX with expiry) only after the signature verifies, so nobody
without the secret can burn a device's nonces; it is kept for twice the allowed skew, longer
than any timestamp it came with stays acceptable.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

from faregate.api.errors import Problem
from faregate.api.registry import DeviceGuard
from faregate.errors import MasterKeyError
from ticketing.device_secrets import SecretBox
from ticketing.devices import RegistrationStatus
from ticketing.services.devices import DeviceKey

SCHEME = "FG-HMAC-SHA256"
DEVICE_HEADER = "X-Faregate-Device"
TIMESTAMP_HEADER = "X-Faregate-Timestamp"
NONCE_HEADER = "X-Faregate-Nonce"
SIGNATURE_HEADER = "X-Faregate-Signature"
DEFAULT_SKEW = timedelta(minutes=5)
MASTER_KEY_BYTES = 32
DEVICE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def string_to_sign(
    device_id: str, method: str, path_qs: str, timestamp: int, nonce: str, body: bytes
) -> bytes:
    parts = (SCHEME, device_id, method.upper(), path_qs, str(timestamp), nonce)
    return "\n".join((*parts, hashlib.sha256(body).hexdigest())).encode()


def signature(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def load_or_create_master_key(path: Path) -> bytes:
    """The master key in `path` (hex); a missing file is created with a fresh key, mode 0600."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(MASTER_KEY_BYTES) + "\n")
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise MasterKeyError(f"device master key {path} is not hex") from None
    if len(key) != MASTER_KEY_BYTES:
        raise MasterKeyError(f"device master key {path} is not {MASTER_KEY_BYTES} bytes")
    return key


def _refuse(detail: str, slug: str = "device-auth") -> Problem:
    return Problem(
        401, slug, "Device authentication failed", detail,
        headers={"WWW-Authenticate": SCHEME},
    )  # fmt: skip


def _header(request: web.Request, name: str, pattern: re.Pattern[str]) -> str:
    value = request.headers.get(name)
    if value is None:
        raise _refuse(f"missing {name} header")
    if not pattern.fullmatch(value):
        raise _refuse(f"malformed {name} header")
    return value


def nonce_key(device_id: str, nonce: str) -> str:
    return f"fg:nonce:{device_id}:{nonce}"


DeviceLookup = Callable[[str], Awaitable[DeviceKey | None]]


async def _secret(lookup: DeviceLookup, box: SecretBox, device_id: str) -> bytes:
    """The enrolled device's secret, or the refusal that says why it has none."""
    key = await lookup(device_id)
    if key is None:
        raise _refuse(
            f"device {device_id} is not registered (faregate devices add, then enrol it)",
            "device-unknown",
        )
    if key.status is RegistrationStatus.REVOKED:
        when = "" if key.revoked_at is None else f" at {key.revoked_at.isoformat()}"
        raise _refuse(f"device {device_id} was revoked{when}", "device-revoked")
    if key.status is RegistrationStatus.PENDING or key.secret_sealed is None:
        raise _refuse(
            f"device {device_id} is registered but not enrolled: POST /device/v1/enrol first",
            "device-unknown",
        )
    return box.open(device_id, key.generation, key.secret_sealed)  # DeviceKeyMismatch: 503


def device_guard(
    redis: Redis,
    lookup: DeviceLookup,
    box: SecretBox,
    clock: Callable[[], datetime],
    *,
    skew: timedelta = DEFAULT_SKEW,
) -> DeviceGuard:
    """A guard that authenticates a device request and returns the device id; `lookup` reads
    the device's registry entry (its status and sealed secret), `box` opens the secret."""
    nonce_ttl = int(2 * skew.total_seconds())

    async def guard(request: web.Request, body: bytes) -> str:
        device_id = _header(request, DEVICE_HEADER, DEVICE_ID)
        stamp = _header(request, TIMESTAMP_HEADER, re.compile(r"-?[0-9]{1,12}"))
        nonce = _header(request, NONCE_HEADER, NONCE)
        given = _header(request, SIGNATURE_HEADER, _SIGNATURE)
        timestamp = int(stamp)
        offset = timestamp - clock().timestamp()
        if abs(offset) > skew.total_seconds():
            raise _refuse(
                f"timestamp is {offset:+.0f} s from the server clock, outside "
                f"±{skew.total_seconds():.0f} s; fetch GET /device/v1/clock"
            )
        message = string_to_sign(
            device_id, request.method, request.raw_path, timestamp, nonce, body
        )
        expected = signature(await _secret(lookup, box, device_id), message)
        if not hmac.compare_digest(expected, given):
            raise _refuse("signature does not match the request and the device's secret")
        if not await redis.set(nonce_key(device_id, nonce), b"1", nx=True, ex=nonce_ttl):
            raise _refuse("nonce already used: a replayed request")
        return device_id

    return guard
