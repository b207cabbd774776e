"""A passenger's phone as the passenger app is: it signs in, saves a card, tops up, buys passes
and fetches its credential over the passenger API (docs/API.md), then shows the token of the
moment from its own clock, offline.

    phone = Phone(http, "rider-1", password)
    await phone.sign_in()
    credential = await phone.fetch_credential()      # a qr PhoneCredential
    token = credential.token_at(phone_time)          # what the gate's camera reads
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from qr.issue import PhoneCredential
from simulators.errors import PhoneError

PAYMENT_RETRIES = 4
RETRY_PAUSE = 0.05  # seconds, doubled after each retry


class Phone:
    """One passenger's phone, signed in as `username` on the server `http` points to."""

    def __init__(self, http: httpx.AsyncClient, username: str, password: str) -> None:
        self.http = http
        self.username = username
        self._password = password
        self._token: str | None = None
        self.credential: PhoneCredential | None = None
        self.retries = 0  # requests sent again after a 502

    async def _call(self, method: str, path: str, body: Any = None, *, retries: int = 0) -> Any:
        """The API's answer; a 502 (the gateway did not answer: the same request is safe to
        send again) is retried `retries` times, as the app does."""
        headers = {} if self._token is None else {"Authorization": f"Bearer {self._token}"}
        for attempt in range(retries + 1):
            answer = await self.http.request(method, path, json=body, headers=headers)
            if answer.status_code != 502 or attempt == retries:
                break
            self.retries += 1
            await asyncio.sleep(RETRY_PAUSE * 2**attempt)  # the app's backoff
        if answer.status_code != 200:
            raise PhoneError(answer.status_code, answer.text)
        return answer.json()

    async def sign_in(self) -> None:
        self._token = None
        signed = await self._call(
            "POST", "/api/v1/sessions", {"username": self.username, "password": self._password}
        )
        self._token = str(signed["token"])

    async def account(self) -> dict[str, Any]:
        account: dict[str, Any] = await self._call("GET", "/api/v1/passenger/account")
        return account

    async def save_card(self, payment_method: str) -> None:
        await self._call("POST", "/api/v1/passenger/card", {"payment_method": payment_method})

    async def top_up(self, amount: int, request_id: str) -> dict[str, Any]:
        payment: dict[str, Any] = await self._call(
            "POST", "/api/v1/passenger/top-ups", {"amount": amount, "request_id": request_id},
            retries=PAYMENT_RETRIES,
        )  # fmt: skip
        return payment

    async def buy_pass(self, product_id: str) -> dict[str, Any]:
        # A second "buy" of one pass on one day is the same sale, charged once: safe to retry.
        sale: dict[str, Any] = await self._call(
            "POST", "/api/v1/passenger/passes", {"product_id": product_id},
            retries=PAYMENT_RETRIES,
        )  # fmt: skip
        return sale

    async def fetch_credential(self) -> PhoneCredential:
        """The phone's credential document (TOKEN-SPEC §7), kept to show tokens from."""
        document = await self._call("POST", "/api/v1/passenger/credential")
        self.credential = PhoneCredential.from_json(document)
        return self.credential

    async def report_lost(self) -> dict[str, Any]:
        """Report this account's phone lost (every session ends: sign in again after)."""
        lost: dict[str, Any] = await self._call("POST", "/api/v1/passenger/lost-phone")
        self._token = None
        return lost
