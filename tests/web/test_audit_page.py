"""The audit log page (`/finance/audit`) and the staff header (SQLite and PostgreSQL, real users):
every staff page says who is signed in and has a sign-out button; signing in and out on the
page is in the log; finance filters it by who, what, target and day and pages through it; a
bad filter is one `Error:` line above the form; nobody else opens it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate.web import add_web_routes
from faregate.web.operator import OperatorOverview
from faregate.web.staff import StaffUsers
from qr.issue import PhoneCredential
from tests.helpers.api import TEST_COST
from tests.helpers.staff_pages import ENGLISH, FakeFinance, operator_overview
from ticketing.audit import Actor, ActorRole, AuditAction, Target, TargetKind
from ticketing.services.audit import record
from ticketing.services.users import create_user
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import UserRole

PASSWORD = "a long enough password"
ROOT = Actor.administrator("root")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(uow_factory: UnitOfWorkFactory) -> AsyncIterator[Client]:
    await create_user(uow_factory, "fin", PASSWORD, UserRole.FINANCE, cost=TEST_COST, by=ROOT)
    await create_user(uow_factory, "ops", PASSWORD, UserRole.OPERATOR, cost=TEST_COST, by=ROOT)

    async def source(request: web.Request) -> PhoneCredential | None:
        return None

    async def operator(request: web.Request) -> OperatorOverview:
        return operator_overview()

    app = web.Application()
    add_web_routes(
        app,
        source,
        operator=operator,
        finance=FakeFinance(),
        staff=StaffUsers(lambda _: uow_factory),
        audit=lambda _: uow_factory,
    )
    async with TestClient(TestServer(app), headers=ENGLISH) as test_client:
        yield test_client


async def sign_in(client: Client, username: str) -> None:
    answer = await client.post(
        "/staff/sign-in",
        data={"username": username, "password": PASSWORD, "next": "/"},
        allow_redirects=False,
    )
    assert answer.status == 303


def actions(html: str) -> list[str]:
    return re.findall(r'data-field="action">([^<]+)<', html)


async def test_every_staff_page_says_who_is_signed_in_and_signs_out(client: Client) -> None:
    await sign_in(client, "fin")
    for path in ("/finance", "/finance/audit"):
        html = await (await client.get(path)).text()
        assert 'Signed in as <strong data-field="signed-in">fin</strong> (finance)' in html
        assert '<form class="staff" method="post" action="/staff/sign-out"' in html
    assert 'href="/finance/audit"' in await (await client.get("/finance")).text()
    out = await client.post("/staff/sign-out", allow_redirects=False)
    assert out.status == 303
    await sign_in(client, "ops")
    html = await (await client.get("/operator")).text()
    assert 'Signed in as <strong data-field="signed-in">ops</strong> (operator)' in html
    # The passenger page and the sign-in form show no staff session.
    client.session.cookie_jar.clear()
    assert "Signed in as" not in await (await client.get("/")).text()
    assert "Signed in as" not in await (await client.get("/finance")).text()


async def test_page_sign_in_and_out_are_in_the_log(client: Client) -> None:
    await sign_in(client, "ops")
    await client.post("/staff/sign-out", allow_redirects=False)
    await sign_in(client, "fin")
    page = await client.get("/finance/audit")
    assert page.status == 200
    html = await page.text()
    assert actions(html) == [
        "sign-in", "sign-out", "sign-in", "user-added", "user-added",
    ]  # fmt: skip
    assert '<span class="badge">administrator</span>' in html
    assert "<code>ops</code>" in html
    assert "Older actions" not in html


async def test_filters_by_who_what_target_and_day(
    client: Client, uow_factory: UnitOfWorkFactory
) -> None:
    await sign_in(client, "fin")
    async with uow_factory() as uow:
        await record(
            uow, Actor("fin", ActorRole.FINANCE), AuditAction.SETTLEMENT_STARTED,
            Target(TargetKind.SERVICE_DAY, "2026-11-24"), reason="end of month",
        )  # fmt: skip
        await uow.commit()

    async def shown(**query: str) -> list[str]:
        answer = await client.get("/finance/audit", params=query)
        assert answer.status == 200, await answer.text()
        return actions(await answer.text())

    assert await shown(actor="fin") == ["settlement-started", "sign-in"]
    assert await shown(action="user-added") == ["user-added", "user-added"]
    assert await shown(target_kind="service-day", target_id="2026-11-24") == ["settlement-started"]
    today = datetime.now(HANOI).date()
    assert len(await shown(**{"from": today.isoformat(), "to": today.isoformat()})) == 4
    tomorrow = (today + timedelta(days=1)).isoformat()
    html = await (await client.get("/finance/audit", params={"from": tomorrow})).text()
    assert actions(html) == []
    assert "No actions match these filters." in html
    # The form keeps what was asked.
    html = await (await client.get("/finance/audit", params={"actor": "fin"})).text()
    assert 'name="actor" value="fin"' in html
    assert "end of month" in await (await client.get("/finance/audit")).text()


async def test_pages_of_fifty_newest_first(client: Client, uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for n in range(60):
            await record(uow, ROOT, AuditAction.USER_ADDED, Target(TargetKind.USER, f"u{n:02d}"))
        await uow.commit()
    await sign_in(client, "fin")
    first = await (await client.get("/finance/audit", params={"action": "user-added"})).text()
    assert first.count('data-field="action"') == 50
    older = re.search(r'<a href="([^"]+)" rel="next">Older actions</a>', first)
    assert older is not None
    second = await (await client.get(older.group(1).replace("&amp;", "&"))).text()
    # 62 user-added lines in all (the fixture's two, then u00..u59): 12 on the second page.
    assert second.count('data-field="action"') == 12
    assert "<code>fin</code>" in second  # the oldest lines: the fixture's users
    assert 'rel="next"' not in second
    assert ">Newest</a>" in second


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"from": "yesterday"}, "Error: from 'yesterday' is not a day (YYYY-MM-DD)"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "Error: since must be before until"),
        ({"action": "rewrite-history"}, "Error: no such action or target kind"),
        ({"target_id": "fin"}, "Error: a target id needs its target kind"),
        ({"cursor": "x"}, "Error: cursor 'x' is not one this log gave"),
    ],
)
async def test_a_bad_filter_is_one_error_line_above_the_form(
    client: Client, query: dict[str, str], error: str
) -> None:
    await sign_in(client, "fin")
    answer = await client.get("/finance/audit", params=query)
    assert answer.status == 400
    html = unescape(await answer.text())
    assert error in html
    assert '<form class="form filters"' in html


async def test_only_finance_opens_the_log(client: Client) -> None:
    assert (await client.get("/finance/audit")).status == 401
    await sign_in(client, "ops")
    refused = await client.get("/finance/audit")
    assert refused.status == 403
    assert "data-entry-id" not in await refused.text()
