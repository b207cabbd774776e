"""Roles of the staff pages (`faregate/web/staff.py`) with real users (SQLite and PostgreSQL):
`/finance` only for finance users, `/operator` only for operators; a passenger's token, as a
cookie or a bearer header, opens neither; staff sign in on the page (HttpOnly, SameSite=Strict
cookie) and out again. No browser: the passenger page's own session is in
test_passenger_account.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate.web import add_web_routes
from faregate.web.operator import OperatorOverview
from faregate.web.staff import SESSION_COOKIE, StaffUsers
from qr.issue import PhoneCredential
from tests.helpers.api import TEST_COST
from tests.helpers.staff_pages import ENGLISH, FakeFinance, operator_overview
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.users import create_user, sign_in
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import UserRole

PASSWORD = "a long enough password"
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def users(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    async with uow_factory() as uow:
        await uow.riders.open_account(
            RiderAccount("acc-rider", "regular", PaymentMode.PREPAID_WALLET, "VND")
        )
        await uow.commit()
    await create_user(
        uow_factory, "rider", PASSWORD, UserRole.PASSENGER, account_id="acc-rider", cost=TEST_COST
    )
    await create_user(uow_factory, "fin", PASSWORD, UserRole.FINANCE, cost=TEST_COST)
    await create_user(uow_factory, "ops", PASSWORD, UserRole.OPERATOR, cost=TEST_COST)
    return uow_factory


@pytest.fixture
def finance() -> FakeFinance:
    return FakeFinance()


@pytest.fixture
async def client(users: UnitOfWorkFactory, finance: FakeFinance) -> AsyncIterator[Client]:
    async def source(request: web.Request) -> PhoneCredential | None:
        return None

    async def operator(request: web.Request) -> OperatorOverview:
        return operator_overview()

    app = web.Application()
    add_web_routes(
        app, source, operator=operator, finance=finance, staff=StaffUsers(lambda _: users)
    )
    client: Client = TestClient(TestServer(app), headers=ENGLISH)
    await client.start_server()
    yield client
    await client.close()


async def token_of(users: UnitOfWorkFactory, username: str) -> str:
    return (await sign_in(users, username, PASSWORD)).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_without_a_token_the_finance_page_is_the_sign_in_form(client: Client) -> None:
    response = await client.get("/finance")
    html = await response.text()
    assert response.status == 401
    assert "Sign in as finance staff" in html
    assert "Service days" not in html
    assert 'name="next" value="/finance"' in html


async def test_a_passengers_session_cannot_open_finance(
    client: Client, users: UnitOfWorkFactory, finance: FakeFinance
) -> None:
    token = await token_of(users, "rider")
    by_header = await client.get("/finance", headers=bearer(token))
    assert by_header.status == 403
    html = await by_header.text()
    assert "Error: this page is for finance staff; rider is signed in as passenger." in html
    assert "Service days" not in html
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: token})
    assert (await client.get("/finance")).status == 403
    settle = await client.post("/finance/days/2026-11-28/settle", allow_redirects=False)
    assert settle.status == 403
    assert finance.started == []
    assert (await client.get("/operator")).status == 403


async def test_finance_signs_in_on_the_page_and_out_again(
    client: Client, users: UnitOfWorkFactory
) -> None:
    signed_in = await client.post(
        "/staff/sign-in",
        data={"username": "fin", "password": PASSWORD, "next": "/finance"},
        allow_redirects=False,
    )
    assert signed_in.status == 303
    assert signed_in.headers["Location"] == "/finance"
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    page = await client.get("/finance")
    assert page.status == 200
    assert "Service days" in await page.text()
    assert (await client.get("/operator")).status == 403  # finance is no operator

    signed_out = await client.post("/staff/sign-out", allow_redirects=False)
    assert signed_out.status == 303
    assert (await client.get("/finance")).status == 401


async def test_operator_opens_the_operator_page(client: Client, users: UnitOfWorkFactory) -> None:
    token = await token_of(users, "ops")
    assert (await client.get("/operator", headers=bearer(token))).status == 200
    assert (await client.get("/finance", headers=bearer(token))).status == 403


async def test_the_sign_in_form_and_its_refusal_are_vietnamese_by_default(client: Client) -> None:
    # A browser asking for a language we do not have gets Vietnamese.
    other = {"Accept-Language": "fr-FR"}
    form = await (await client.get("/finance", headers=other)).text()
    assert "Đăng nhập nhân viên tài chính" in form
    refused = await client.post(
        "/staff/sign-in", data={"username": "nobody-vi", "password": "wrong"}, headers=other
    )
    assert "Lỗi: sai tên đăng nhập hoặc mật khẩu." in await refused.text()


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"username": "fin", "password": "wrong password here"}, 401),
        ({"username": "nobody", "password": PASSWORD}, 401),
        ({"username": "fin\x00", "password": PASSWORD}, 401),  # was a 500 on PostgreSQL
        ({}, 401),
    ],
)
async def test_a_failed_staff_sign_in_is_one_error_line(
    client: Client, form: dict[str, Any], status: int
) -> None:
    response = await client.post("/staff/sign-in", data=form, allow_redirects=False)
    assert response.status == status
    html = await response.text()
    assert html.count("Error:") == 1
    assert "Error: wrong username or password." in html
    assert "Set-Cookie" not in response.headers


async def test_a_sign_in_form_too_big_is_refused_before_it_is_read(client: Client) -> None:
    form = {"username": "fin", "password": PASSWORD, "next": "/" + "x" * 20_000}
    response = await client.post("/staff/sign-in", data=form, allow_redirects=False)
    assert response.status == 413
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "wanted",
    [
        "//evil.example/",
        "https://evil.example/",
        "\\\\evil",
        "",
        # a browser drops tabs and newlines from a URL: these were followed as //evil.example
        "/\t/evil.example/x",
        "/\n/evil.example/x",
        "/\r\n/evil.example/x",
        "/\\evil.example/x",
        "/\x00/evil.example",
    ],
)
async def test_sign_in_never_redirects_off_site(client: Client, wanted: str) -> None:
    response = await client.post(
        "/staff/sign-in",
        data={"username": "fin", "password": PASSWORD, "next": wanted},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/"
