"""The finance page in chromium, on the placeholder contract's data: a settled day's control
status, statements, charts and exceptions; the button that starts a closed day's settlement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


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


def test_the_button_starts_the_settlement_of_a_closed_day(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/finance")
    # Only the closed day has the button: an open day is not over, a settled one is locked.
    buttons = page.get_by_role("button", name="Start settlement")
    assert buttons.count() == 1
    page.get_by_role("button", name="Start settlement of 2026-11-29").click()
    page.wait_for_url("**/finance?day=2026-11-29&started=2026-11-29")
    assert (
        page.get_by_role("status").inner_text()
        == "Settlement of 2026-11-29 run; its status is below."
    )
    assert [d.isoformat() for d in server.finance.started] == ["2026-11-29"]
