"""The finance page in chromium, on the placeholder contract's data: a settled day's control
status, statements, charts and exceptions; preparing a closed day and approving it, each
after a confirmation step, with the run's progress and who prepared and approved it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.helpers.browser import opened_page

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, {"width": 1280, "height": 900}, timeout_ms=10_000) as page:
        yield page


def test_a_settled_day_shows_its_control_status_and_statements(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/finance")
    report = page.locator("#report")
    # Without ?day= the newest settled day is shown.
    assert report.get_by_role("heading", level=2).inner_text() == "Saturday 28 November 2026"
    assert report.locator('[data-field="control"]').inner_text() == "Balanced"
    links = report.locator("ul.downloads a")
    assert links.all_inner_texts() == [
        "Statement, Hanoi Metro 2A (CSV)",
        "Settlement report (HTML)",
    ]
    assert links.first.get_attribute("download") == ""
    assert links.first.get_attribute("href") == "/static/test-statements/2026-11-28-metro.csv"
    assert report.locator(".hbar").count() == 3
    assert report.locator("svg.columns rect").count() == 24
    assert report.locator("tbody tr").filter(has_text="amount mismatch").count() == 1
    out_of_balance = page.locator('tr[data-day="2026-11-27"] [data-field="control"]')
    assert out_of_balance.inner_text() == "Out of balance"


def test_prepare_and_approve_each_ask_for_confirmation(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/finance")
    # Only the closed day offers it: an open day is not over, a settled one is locked.
    assert page.get_by_role("link", name="Prepare settlement").count() == 1
    page.get_by_role("link", name="Prepare settlement of 2026-11-29").click()
    confirm = page.locator("#confirm")
    assert "No card is charged" in confirm.inner_text()
    assert server.finance.started == []  # nothing happens before the confirmation
    confirm.get_by_role("button", name="Yes, prepare 2026-11-29").click()
    page.wait_for_url("**/finance?day=2026-11-29&started=2026-11-29")
    assert "no card is charged until another finance user approves it" in (
        page.get_by_role("status").first.inner_text()
    )
    assert [d.isoformat() for d in server.finance.started] == ["2026-11-29"]

    run = page.locator("#run")
    assert run.locator('[data-field="state"]').inner_text() == "Prepared"
    assert run.locator('[data-field="prepared-by"]').inner_text().startswith("fin-lan")
    assert run.locator('[data-field="charges"]').inner_text() == "48,000"
    run.get_by_role("link", name="Approve settlement of 2026-11-29").click()
    assert server.finance.approved == []
    page.get_by_role("button", name="Yes, approve and charge").click()
    page.wait_for_url("**/finance?day=2026-11-29&approved=2026-11-29")
    assert [d.isoformat() for d in server.finance.approved] == ["2026-11-29"]
    assert run.locator('[data-field="approved-by"]').inner_text().startswith("fin-minh")
    assert run.locator('[data-field="counts"]').inner_text() == "1,200 of 48,000"
