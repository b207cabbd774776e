"""Staff sign-in under attack: failures of a username from one client get growing delays (not a
lockout: the same user from another client signs in), on the API and on the page form alike;
an unknown user costs a real password check; a NUL in a username is a wrong username, not a
500; forwarded headers count only from a configured proxy."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from faregate.api.context import CONFIG, UOWS
from faregate.config import Settings
from faregate.web.clients import TrustedProxies
from faregate.web.sign_in_throttle import SignInDelays
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import STAFF_PASSWORD, TEST_COST, Client, make_config
from ticketing.services import users as users_service
from ticketing.services.users import DEFAULT_COST, ScryptCost, create_user, dummy_hash
from ticketing.users import UserRole

SESSIONS = "/api/v1/sessions"


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe, clock: Clock
) -> AsyncIterator[Client]:
    """The app behind a proxy at 127.0.0.1 (the test client's address): each test names its
    clients by X-Forwarded-For. Two free failures, then 10, 20, 40 s, at most 40."""
    config = make_config(
        tmp_path, db_url, localstripe_server, clock=clock,
        sign_in_delays=SignInDelays(free=2, base=10, longest=40),
        trusted_proxies=TrustedProxies.parse(["127.0.0.1", "::1"]),
    )  # fmt: skip
    async with TestClient(TestServer(create_app(config))) as test_client:
        yield test_client


async def finance_user(client: Client) -> str:
    username = f"fin-{secrets.token_hex(4)}"
    await create_user(
        client.server.app[UOWS], username, STAFF_PASSWORD, UserRole.FINANCE, cost=TEST_COST
    )
    return username


def unique_address() -> str:
    """A client of its own (failures are remembered a day in the shared Redis)."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def from_client(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.7, {address}"}


async def api_sign_in(client: Client, username: str, password: str, address: str) -> Any:
    body = {"username": username, "password": password}
    return await client.post(SESSIONS, json=body, headers=from_client(address))


async def test_failures_from_one_client_wait_longer_each_time_not_the_user_elsewhere(
    client: Client, clock: Clock
) -> None:
    username = await finance_user(client)
    attacker = unique_address()
    statuses = [(await api_sign_in(client, username, "guess", attacker)).status for _ in range(3)]
    assert statuses == [401, 401, 401]  # two free, the third answered then delayed
    waits = []
    for expected in (10, 20, 40, 40):
        held = await api_sign_in(client, username, STAFF_PASSWORD, attacker)
        assert held.status == 429  # even the right password waits: no oracle while held
        assert (await held.json())["type"] == "urn:faregate:problem:rate-limited"
        waits.append(int(held.headers["Retry-After"]))
        assert waits[-1] == expected
        # the real user, at another client, is not held back
        elsewhere = await api_sign_in(client, username, "a wrong one", unique_address())
        assert elsewhere.status == 401
        clock.at += timedelta(seconds=expected)
        assert (await api_sign_in(client, username, "guess", attacker)).status == 401
    assert waits == [10, 20, 40, 40]  # growing, then capped: never a lockout
    clock.at += timedelta(seconds=40)
    signed_in = await api_sign_in(client, username, STAFF_PASSWORD, attacker)
    assert signed_in.status == 200  # and success forgets the failures
    assert (await api_sign_in(client, username, "guess", attacker)).status == 401


async def test_the_staff_form_is_limited_too(client: Client) -> None:
    username = await finance_user(client)
    attacker = unique_address()
    form = {"username": username, "password": "guess", "next": "/finance"}
    statuses = []
    for _ in range(4):
        page = await client.post(
            "/staff/sign-in", data=form, headers=from_client(attacker), allow_redirects=False
        )
        statuses.append(page.status)
    assert statuses == [401, 401, 401, 429]
    assert page.headers["Retry-After"] == "10"
    html = await page.text()
    assert html.count("Lỗi:") == 1  # the staff pages are Vietnamese by default
    # the API and the form count the same failures
    assert (await api_sign_in(client, username, STAFF_PASSWORD, attacker)).status == 429


async def test_forwarded_headers_from_anyone_else_are_ignored(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    """Without a configured proxy, X-Forwarded-For cannot make one client look like many
    (nor X-Forwarded-Proto make the cookie Secure)."""
    config = make_config(
        tmp_path, db_url, localstripe_server, sign_in_delays=SignInDelays(free=0, base=30)
    )
    async with TestClient(TestServer(create_app(config))) as client:
        username = await finance_user(client)
        first = await api_sign_in(client, username, "guess", "203.0.113.1")
        assert first.status == 401
        second = await api_sign_in(client, username, "guess", "203.0.113.2")
        assert second.status == 429
        form = {"username": f"someone-{secrets.token_hex(4)}", "password": "x", "next": "/"}
        page = await client.post(
            "/staff/sign-in", data=form, headers={"X-Forwarded-Proto": "https"}
        )
        assert page.status == 401


async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(client: Client) -> None:
    username = await finance_user(client)
    form = {"username": username, "password": STAFF_PASSWORD, "next": "/finance"}
    for proto, secure in (("https", True), ("http", False)):
        answer = await client.post(
            "/staff/sign-in", data=form, allow_redirects=False,
            headers={**from_client(unique_address()), "X-Forwarded-Proto": proto},
        )  # fmt: skip
        assert answer.status == 303
        cookie = answer.headers["Set-Cookie"]
        assert ("Secure" in cookie) is secure


@pytest.mark.parametrize("username", ["fin\x00", "\x00", "a\x00b' OR 1=1 --"])
async def test_a_nul_in_a_username_is_a_wrong_username(client: Client, username: str) -> None:
    """Was a 500 on PostgreSQL (text cannot hold NUL), with the username in the log."""
    address = unique_address()  # the username is the same every run: the client is not
    answer = await api_sign_in(client, username, STAFF_PASSWORD, address)
    assert answer.status == 401
    assert (await answer.json())["type"] == "urn:faregate:problem:bad-credentials"
    form = {"username": username, "password": STAFF_PASSWORD, "next": "/"}
    page = await client.post("/staff/sign-in", data=form, headers=from_client(address))
    assert page.status == 401
    assert "Lỗi: sai tên đăng nhập hoặc mật khẩu." in await page.text()


def test_an_unknown_user_is_checked_against_a_hash_of_the_real_cost() -> None:
    """The dummy hash had n=2**10 against real users' 2**14: 12 ms against 88 ms told which
    usernames exist. Now it is made with the cost real hashes are: the production default
    unless the server is configured otherwise (as the tests' servers are, to save CPU)."""
    assert DEFAULT_COST == ScryptCost(n=2**14, r=8, p=1) == Settings().password_cost
    scheme, n, r, p, _salt, _key = dummy_hash().split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**14, 8, 1)
    assert dummy_hash(TEST_COST).split("$")[1:4] == [str(TEST_COST.n), "8", "1"]


async def test_an_unknown_user_costs_what_the_servers_new_hashes_cost(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the API and the page form, an unknown user's password is checked against a hash at
    the server's configured cost, the cost its users' hashes are made at."""
    checked: list[str] = []

    async def verify(password: str, stored: str) -> bool:
        checked.append(stored.split("$")[1])
        return False

    monkeypatch.setattr(users_service, "verify_password", verify)
    address = unique_address()
    answer = await api_sign_in(client, f"nobody-{secrets.token_hex(4)}", "a password", address)
    assert answer.status == 401
    form = {"username": f"nobody-{secrets.token_hex(4)}", "password": "a password", "next": "/"}
    page = await client.post("/staff/sign-in", data=form, headers=from_client(address))
    assert page.status == 401
    configured = client.server.app[CONFIG].settings.password_cost
    assert configured != DEFAULT_COST
    assert checked == [str(configured.n)] * 2
