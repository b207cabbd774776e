"""The device side of the device API: enrol, sign requests as docs/DEVICE-API.md specifies,
send them.

Independent of the server's code on purpose (a gate implements the documented protocol, not our
server's modules), so the tests that pass a request made here through the server check the
document as well as the code. Only the standard library, httpx and `cryptography` (X25519).

    key = generate_device_key()                          # kept in the device's secure storage
    client = await DeviceClient.enrol("http://127.0.0.1:8080", "gate-m2a-01", code, key)
    deny_list = await client.sync_deny_list(None)        # the whole list, a qr DenyList
    deny_list = await client.sync_deny_list(deny_list)   # later: only the delta, applied
    config = await client.configuration(None)            # its heartbeat_interval_seconds...
    interval = timedelta(seconds=config["heartbeat_interval_seconds"])
    if client.heartbeat_due(interval):                   # ...checked often, due on the interval
        await client.heartbeat("gate-fw 2.4.1", config=config, deny_list=deny_list)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qr.denylist import DenyList, DenyListDelta

SCHEME = "FG-HMAC-SHA256"
ENROL_PATH = "/device/v1/enrol"
CONFIG_PATH = "/device/v1/config"
LIVENESS_KEYS_PATH = "/device/v1/liveness-keys"
HEARTBEAT_PATH = "/device/v1/heartbeat"
CLOCK_PATH = "/device/v1/clock"
KEYSET_PATH = "/device/v1/keyset"


def generate_device_key() -> X25519PrivateKey:
    """The device's own X25519 key pair, made once, before enrolment; only its public half
    leaves the device (the server seals the liveness keys to it)."""
    return X25519PrivateKey.generate()


def public_key_hex(key: X25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def enrolment_body(device_id: str, code: str, key: X25519PrivateKey) -> bytes:
    """The body of `POST /device/v1/enrol` (compact JSON, UTF-8)."""
    document = {"device_id": device_id, "enrolment_code": code, "public_key": public_key_hex(key)}
    return json.dumps(document, separators=(",", ":")).encode()


def tap_record(
    device_id: str,
    seq: int,
    credential_id: int,
    at: datetime,
    *,
    route_id: str,
    stop_id: str,
    kind: str,
    step: int | None = None,
    deny_list_version: int | None = None,
    deny_list_stale: bool = False,
) -> dict[str, Any]:
    """An accepted tap as `POST /device/v1/journal` takes it (docs/DEVICE-API.md): the
    credential id as a decimal string, never an account (the backend attributes the tap)."""
    record: dict[str, Any] = {
        "device_id": device_id, "device_seq": seq, "credential_id": str(credential_id),
        "at": at.isoformat(), "route_id": route_id, "stop_id": stop_id, "kind": kind,
        "deny_list_stale": deny_list_stale,
    }  # fmt: skip
    if step is not None:
        record["step"] = step
    if deny_list_version is not None:
        record["deny_list_version"] = deny_list_version
    return record


def refusal_record(
    device_id: str,
    seq: int,
    at: datetime,
    reason: str,
    *,
    credential_id: int | None = None,
    route_id: str | None = None,
    stop_id: str | None = None,
    step: int | None = None,
    deny_list_version: int | None = None,
    deny_list_stale: bool = False,
) -> dict[str, Any]:
    """A refused decision as `POST /device/v1/journal` takes it in `refusals`."""
    record: dict[str, Any] = {
        "device_id": device_id, "device_seq": seq, "at": at.isoformat(), "reason": reason,
        "deny_list_stale": deny_list_stale,
    }  # fmt: skip
    optional = {
        "credential_id": None if credential_id is None else str(credential_id),
        "route_id": route_id, "stop_id": stop_id, "step": step,
        "deny_list_version": deny_list_version,
    }  # fmt: skip
    record.update({k: v for k, v in optional.items() if v is not None})
    return record


def sign_request(
    secret: bytes,
    device_id: str,
    method: str,
    path_qs: str,
    body: bytes = b"",
    *,
    at: datetime,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four X-Faregate-* headers for a request sent at `at` (path with its query, as sent)."""
    timestamp = str(int(at.timestamp()))
    nonce = nonce or secrets.token_urlsafe(18)
    text = "\n".join(
        [SCHEME, device_id, method.upper(), path_qs, timestamp, nonce,
         hashlib.sha256(body).hexdigest()]
    )  # fmt: skip
    return {
        "X-Faregate-Device": device_id,
        "X-Faregate-Timestamp": timestamp,
        "X-Faregate-Nonce": nonce,
        "X-Faregate-Signature": hmac.new(secret, text.encode(), hashlib.sha256).hexdigest(),
    }


class DeviceClient:
    """Signed requests from one device; every request gets a fresh nonce and the device clock.
    `key` is the device's X25519 key pair (needed to open its sealed liveness keys)."""

    def __init__(
        self,
        base_url: str,
        device_id: str,
        secret: bytes,
        *,
        key: X25519PrivateKey | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.device_id = device_id
        self.key = key
        self._secret = secret
        self._clock = clock
        self._offset = timedelta()  # what `correct_clock` found the device clock to be off by
        # The device clock (uncorrected: a correction must not move the timer) at the last
        # heartbeat sent; None: none yet.
        self._last_heartbeat: datetime | None = None
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=30.0)

    @classmethod
    async def enrol(
        cls,
        base_url: str,
        device_id: str,
        code: str,
        key: X25519PrivateKey,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        http: httpx.AsyncClient | None = None,
    ) -> DeviceClient:
        """Exchange the one-time enrolment code for the device's secret (`POST
        /device/v1/enrol`, unsigned) and return a client signing with it. Raises
        httpx.HTTPStatusError when the server refuses (a wrong, used or expired code: 403)."""
        http = http or httpx.AsyncClient(base_url=base_url, timeout=30.0)
        answer = await http.post(
            base_url.rstrip("/") + ENROL_PATH,
            content=enrolment_body(device_id, code, key),
            headers={"Content-Type": "application/json"},
        )
        answer.raise_for_status()
        secret = bytes.fromhex(answer.json()["secret"])
        return cls(base_url, device_id, secret, key=key, clock=clock, http=http)

    @property
    def secret(self) -> bytes:
        return self._secret

    def now(self) -> datetime:
        """The device clock, corrected by the server's (`correct_clock`)."""
        return self._clock() + self._offset

    async def correct_clock(self) -> timedelta:
        """Read the server clock (`GET /device/v1/clock`, unsigned) and keep the device
        clock's offset to it, taken at the middle of the round trip: signed requests and
        heartbeats carry the corrected time from now on. Returns the correction."""
        sent = self._clock()
        answer = await self._http.get(CLOCK_PATH)
        received = self._clock()
        answer.raise_for_status()
        server = datetime.fromtimestamp(int(answer.json()["unix_ms"]) / 1000, UTC)
        self._offset = server - (sent + (received - sent) / 2)
        return self._offset

    async def keyset(self) -> Mapping[str, Any]:
        """The public key-set document (`faregate-keyset/1`, what `qr.keys.KeySet.from_json`
        reads). Raises httpx.HTTPStatusError when the server refuses."""
        answer = await self.get(KEYSET_PATH)
        answer.raise_for_status()
        document: Mapping[str, Any] = answer.json()
        return document

    async def request(
        self, method: str, path_qs: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        signed = sign_request(self._secret, self.device_id, method, path_qs, body, at=self.now())
        if body:
            signed["Content-Type"] = "application/json"
        return await self._http.request(
            method, path_qs, content=body, headers={**signed, **(headers or {})}
        )

    async def get(self, path_qs: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.request("GET", path_qs, headers=headers)

    async def upload(
        self, records: list[dict[str, Any]], refusals: list[dict[str, Any]] | None = None
    ) -> httpx.Response:
        """POST a journal batch (accepted taps, `tap_record`; refused decisions,
        `refusal_record`); the answer counts new, duplicate, conflicting and quarantined
        records. Every record answered 200 may be dropped, quarantined ones too."""
        batch: dict[str, Any] = {"records": records}
        if refusals:
            batch["refusals"] = refusals
        body = json.dumps(batch, separators=(",", ":")).encode()
        return await self.request("POST", "/device/v1/journal", body)

    async def configuration(self, held: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """The device's configuration document: `held` while the server answers 304 (its
        `version` is the ETag), else the new one. Raises httpx.HTTPStatusError otherwise."""
        headers = None if held is None else {"If-None-Match": f'"{held["version"]}"'}
        answer = await self.get(CONFIG_PATH, headers)
        if answer.status_code == 304 and held is not None:
            return held
        answer.raise_for_status()
        document: Mapping[str, Any] = answer.json()
        return document

    async def liveness_keys(self, held_version: str | None) -> Mapping[str, Any] | None:
        """The liveness keys sealed to this device (docs/TOKEN-SPEC.md §9), or None while the
        version held is current (304). Raises httpx.HTTPStatusError otherwise."""
        headers = None if held_version is None else {"If-None-Match": f'"{held_version}"'}
        answer = await self.get(LIVENESS_KEYS_PATH, headers)
        if answer.status_code == 304 and held_version is not None:
            return None
        answer.raise_for_status()
        document: Mapping[str, Any] = answer.json()
        return document

    async def sync_deny_list(self, held: DenyList | None) -> DenyList:
        """The current deny list: fetched whole when the device holds none (or the server no
        longer knows its version: 409), else the delta since the held version applied to it
        (204: already current). Raises httpx.HTTPStatusError on any other answer."""
        if held is not None:
            answer = await self.get(f"/device/v1/deny-list/delta?since={held.version}")
            if answer.status_code == 204:
                return held
            if answer.status_code != 409:
                answer.raise_for_status()
                return held.apply(DenyListDelta.from_json(answer.json()))
        whole = await self.get("/device/v1/deny-list")
        whole.raise_for_status()
        return DenyList.from_json(whole.json())

    def heartbeat_due(self, interval: timedelta) -> bool:
        """Whether a heartbeat is due: none sent yet, or `interval` (the configuration's
        `heartbeat_interval_seconds`) has passed on the device clock since the last one was
        sent. A device that was busy for several intervals sends one, not one per interval
        missed; one sent but not answered counts (the next waits a whole interval)."""
        return self._last_heartbeat is None or self._clock() - self._last_heartbeat >= interval

    async def heartbeat(
        self,
        software_version: str,
        *,
        config: Mapping[str, Any] | None = None,
        key_set_version: str | None = None,
        deny_list: DenyList | None = None,
        waiting: list[dict[str, Any]] | None = None,
        faults: list[dict[str, Any]] | None = None,
    ) -> httpx.Response:
        """Report what the device holds (the configuration document, the liveness keys'
        version, the deny list) and the journal records it has not uploaded yet (their `at`
        gives the oldest one's age), with any faults (`{"code", "detail"?, "since"?}`). Sent
        whether due or not; `heartbeat_due` says when the interval has come."""
        self._last_heartbeat = self._clock()
        now = self.now()
        oldest = None
        if waiting:
            first = min(datetime.fromisoformat(str(r["at"])) for r in waiting)
            oldest = max(int((now - first).total_seconds()), 0)
        body = {
            "software_version": software_version,
            "config_version": None if config is None else config["version"],
            "key_set_version": key_set_version,
            "deny_list_version": None if deny_list is None else deny_list.version,
            "records_waiting": len(waiting or ()),
            "oldest_waiting_seconds": oldest,
            "faults": faults or [],
            "device_time": now.isoformat(),
        }
        return await self.request(
            "POST", HEARTBEAT_PATH, json.dumps(body, separators=(",", ":")).encode()
        )

    async def aclose(self) -> None:
        await self._http.aclose()
