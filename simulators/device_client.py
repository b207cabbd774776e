"""The device side of the device API: sign requests as docs/DEVICE-API.md specifies, send them.

Independent of the server's code on purpose (a gate implements the documented scheme, not our
server's module), so the tests that pass a request signed here through the server check the
document as well as the code. Only the standard library and httpx.

    client = DeviceClient("http://127.0.0.1:8080", "gate-m2a-01", secret)
    deny_list = await client.sync_deny_list(None)        # the whole list, a qr DenyList
    deny_list = await client.sync_deny_list(deny_list)   # later: only the delta, applied
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from qr.denylist import DenyList, DenyListDelta

SCHEME = "FG-HMAC-SHA256"


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
    """Signed requests from one device; every request gets a fresh nonce and the device clock."""

    def __init__(
        self,
        base_url: str,
        device_id: str,
        secret: bytes,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.device_id = device_id
        self._secret = secret
        self._clock = clock
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=30.0)

    async def request(
        self, method: str, path_qs: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        signed = sign_request(self._secret, self.device_id, method, path_qs, body, at=self._clock())
        if body:
            signed["Content-Type"] = "application/json"
        return await self._http.request(
            method, path_qs, content=body, headers={**signed, **(headers or {})}
        )

    async def get(self, path_qs: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.request("GET", path_qs, headers=headers)

    async def upload(self, records: list[dict[str, Any]]) -> httpx.Response:
        """POST a journal batch; the answer counts new, duplicate and conflicting records."""
        body = json.dumps({"records": records}, separators=(",", ":")).encode()
        return await self.request("POST", "/device/v1/journal", body)

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

    async def aclose(self) -> None:
        await self._http.aclose()
