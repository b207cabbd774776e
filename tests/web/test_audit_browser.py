"""The audit log page in chromium, on the whole app (`create_app`, SQLite): a finance user signs
in on the page, sees who is signed in, opens the audit log from the finance page, finds their
own sign-in, filters it, and signs out with the header's button; at desktop and phone size.
FAREGATE_SCREENSHOTS=DIR saves the pages (docs/screenshots)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers.api import TEST_COST
from tests.helpers.browser import PHONE_VIEWPORT, opened_page
from tests.helpers.live_app import LiveApp
from ticketing.audit import Actor, AuditAction, AuditQuery
from ticketing.services.audit import read_audit
from ticketing.services.users import create_user
from ticketing.users import UserRole

pytestmark = pytest.mark.timeout(300)
PASSWORD = "a long enough password"
SCREENSHOTS = os.environ.get("FAREGATE_SCREENSHOTS")
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": PHONE_VIEWPORT}


@pytest.fixture(params=list(VIEWPORTS))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(size: str, browser: Browser) -> Iterator[Page]:
    with opened_page(browser, VIEWPORTS[size]) as page:  # type: ignore[arg-type]
        yield page


def test_finance_reads_the_log_and_signs_out(page: Page, size: str, live_app: LiveApp) -> None:
    username = f"fin-{secrets.token_hex(4)}"
    live_app.run(
        create_user(
            live_app.uows, username, PASSWORD, UserRole.FINANCE,
            cost=TEST_COST, by=Actor.administrator("root"),
        )
    )  # fmt: skip
    page.goto(f"{live_app.url}/finance")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_app.url}/finance")
    expect(page.locator('[data-field="signed-in"]')).to_have_text(username)

    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(f"{live_app.url}/finance/audit")
    mine = page.locator("tr", has_text=username)
    expect(mine.first).to_contain_text("sign-in")
    expect(mine.nth(1)).to_contain_text("user-added")
    expect(mine.nth(1)).to_contain_text("administrator")

    page.get_by_label("Who (username)").fill(username)
    page.get_by_label("Action", exact=True).select_option("sign-in")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(lambda url: "action=sign-in" in url)
    expect(page.locator('[data-field="action"]')).to_have_text(["sign-in"])
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"audit-{size}.png"), full_page=True)

    page.get_by_label("Action", exact=True).select_option("")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(lambda url: "action=&" in url)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_app.url}/")
    out = live_app.run(read_audit(live_app.uows, AuditQuery(actor=username)))
    assert [line.action for line in out.entries][:2] == [AuditAction.SIGN_OUT, AuditAction.SIGN_IN]
    assert page.goto(f"{live_app.url}/finance/audit").status == 401  # type: ignore[union-attr]
