"""Passengers as the API tests make them: registered through the passenger API and signed in,
making requests with their bearer token."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from tests.helpers.api import Client

PASSWORD = "a long enough password"


class MovableClock:
    """The app's clock, moved on by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Passenger:
    """A registered, signed-in passenger making requests with their bearer token."""

    def __init__(self, client: Client, username: str, account_id: str, token: str) -> None:
        self.client = client
        self.username = username
        self.account_id = account_id
        self.token = token

    async def sign_in_again(self) -> None:
        self.token = await sign_in(self.client, self.username)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str) -> Any:
        return await self.client.get(path, headers=self.auth)

    async def post(self, path: str, body: Any = None) -> Any:
        if body is None:
            return await self.client.post(path, headers=self.auth)
        return await self.client.post(path, json=body, headers=self.auth)


async def register(client: Client, mode: str = "prepaid_wallet") -> Passenger:
    username = f"rider-{secrets.token_hex(5)}"
    response = await client.post(
        "/api/v1/passengers",
        json={"username": username, "password": PASSWORD, "payment_mode": mode},
    )
    assert response.status == 200, await response.text()
    registered = await response.json()
    assert registered["username"] == username
    assert registered["payment_mode"] == mode
    return Passenger(client, username, registered["account_id"], await sign_in(client, username))


async def sign_in(client: Client, username: str) -> str:
    session = await client.post(
        "/api/v1/sessions", json={"username": username, "password": PASSWORD}
    )
    assert session.status == 200, await session.text()
    token: str = (await session.json())["token"]
    return token
