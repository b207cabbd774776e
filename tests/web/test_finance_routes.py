"""The finance routes' refusals, each one `Error:` line (no browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate.web import add_web_routes
from faregate.web.finance_source import readable_detail
from tests.helpers.staff_pages import ENGLISH


@pytest.fixture
def finance(fake_finance: Any) -> Any:
    return fake_finance


@pytest.fixture
async def client(finance: Any) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    add_web_routes(app, finance=finance)
    async with TestClient(TestServer(app), headers=ENGLISH) as client:
        yield client


async def test_a_settled_day_cannot_be_started_again(
    client: TestClient[Any, Any], finance: Any
) -> None:
    response = await client.post("/finance/days/2026-11-28/settle", allow_redirects=False)
    assert response.status == 409
    html = await response.text()
    assert '<p class="flash alert" role="alert">Error: 2026-11-28 is not a closed day</p>' in html
    assert finance.started == []


async def test_a_closed_day_is_started_and_the_browser_sent_back(
    client: TestClient[Any, Any], finance: Any
) -> None:
    response = await client.post("/finance/days/2026-11-29/settle", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/finance?day=2026-11-29&started=2026-11-29"
    assert [d.isoformat() for d in finance.started] == ["2026-11-29"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/finance/days/29-11-2026/settle"),
        ("GET", "/finance?day=yesterday"),
        # days datetime cannot take a next morning or an offset of (were OverflowError, 500)
        ("POST", "/finance/days/0001-01-01/settle"),
        ("POST", "/finance/days/9999-12-31/settle"),
        ("GET", "/finance?day=9999-12-31"),
    ],
)
async def test_a_malformed_day_is_one_error_line(
    client: TestClient[Any, Any], method: str, path: str
) -> None:
    response = await client.request(method, path, allow_redirects=False)
    assert response.status == 400
    text = await response.text()
    assert text.startswith("Error: ")
    assert "is not a day from 1970-01-01 to 8999-12-31 (YYYY-MM-DD)" in text
    assert "\n" not in text.strip()


async def test_a_day_without_a_report_says_so(client: TestClient[Any, Any]) -> None:
    response = await client.get("/finance?day=1999-01-01")
    assert response.status == 200
    assert "No report for this day." in await response.text()


async def test_without_sources_there_is_no_operator_or_finance_page() -> None:
    app = web.Application()
    add_web_routes(app)
    async with TestClient(TestServer(app), headers=ENGLISH) as client:
        for path in ("/operator", "/finance", "/operator/occupancy/events"):
            assert (await client.get(path)).status == 404


def test_an_exception_detail_reads_as_one_line() -> None:
    stored = {
        "age_days": -6, "amount": 50000, "gateway_amount": 50000, "ledger_amount": None,
        "record_day": "2026-11-30", "suspense": 50000,
    }  # fmt: skip
    assert readable_detail(stored, "VND") == (
        "ledger none, gateway 50.000\xa0₫; recorded 2026-11-30; 50.000\xa0₫ in suspense"
    )
    assert readable_detail({"account": "r00012", "day_total": 7000}, "VND") == "account r00012"
    # fields it does not know, as they were stored
    assert readable_detail({"note": "wallet short", "n": [1, 2]}, "VND") == (
        '{"n": [1, 2], "note": "wallet short"}'
    )
