"""The parking pages in chromium on the whole app (SQLite, Redis, the session's localstripe):
a lot's day, a new lot's form with its errors, the cases and the inspector's page, at desktop
and phone size; nothing wider than the phone's screen. FAREGATE_SCREENSHOTS=DIR saves the
screenshots there to look at."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from faregate.api.context import ENGINE, REDIS
from gateways.localstripe_server import LocalStripe
from parking.occupancy import Occupancy
from parking.records import LotKind
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.api import TEST_COST, make_config
from tests.helpers.browser import PHONE_VIEWPORT
from tests.helpers.databases import sqlite_url
from tests.helpers.live_app import LiveApp, serving
from tests.helpers.parking import lot_with_a_day
from ticketing.services.users import create_user
from ticketing.users import UserRole

pytestmark = pytest.mark.timeout(600)
PASSWORD = "a long enough password"
SCREENSHOTS = os.environ.get("FAREGATE_SCREENSHOTS")
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def live_app(
    tmp_path_factory: pytest.TempPathFactory, localstripe_server: LocalStripe
) -> Iterator[LiveApp]:
    tmp = tmp_path_factory.mktemp("parking-pages")
    config = make_config(tmp, sqlite_url(tmp / "faregate.sqlite"), localstripe_server)
    with serving(config) as live:
        yield live


def look(page: Page, name: str) -> None:
    """Save the screenshot when asked, and check nothing is wider than the screen."""
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: {overflow}px wider than the screen"


def signed_in(
    browser: Browser, live: LiveApp, role: UserRole, path: str, viewport: dict[str, int]
) -> Page:
    username = f"{role.value}-{secrets.token_hex(4)}"
    live.run(create_user(live.uows, username, PASSWORD, role, cost=TEST_COST))
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{live.url}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}{path}")
    return page


def a_lot(live: LiveApp, **changes: object) -> str:
    app = live.app
    return live.run(
        lot_with_a_day(ParkingUnitOfWorkFactory(app[ENGINE]), Occupancy(app[REDIS]), **changes)
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_VIEWPORT], ids=["desktop", "phone"])
def test_the_operator_pages_on_screens(
    browser: Browser, live_app: LiveApp, viewport: dict[str, int]
) -> None:
    size = "desktop" if viewport is DESKTOP else "phone"
    lot_id = a_lot(live_app)
    page = signed_in(browser, live_app, UserRole.OPERATOR, f"/operator/lots/{lot_id}", viewport)
    expect(page.get_by_role("heading", name="Phố Huế car park")).to_be_visible()
    expect(page.locator("svg.area path")).to_have_count(1)
    look(page, f"parking-lot-{size}.png")

    page.locator("#document").fill("id = 'x'\ncurrency = 'VND'")
    page.get_by_role("button", name="Upload as a draft").click()
    expect(page.locator("#upload-errors")).to_be_visible()
    look(page, f"parking-tariff-errors-{size}.png")

    page.goto(f"{live_app.url}/operator/lots/new")
    page.get_by_label("Lot id").fill(f"new-{secrets.token_hex(3)}")
    page.get_by_label("Name", exact=True).fill("Hàng Bài")
    page.get_by_label("Operator id").fill("iparking-hanoi")
    page.get_by_label("Spaces", exact=True).fill("10")
    page.get_by_label("Reserved spaces").fill("12")
    page.get_by_label("First tariff").select_option("hanoi-car")
    page.get_by_role("button", name="Create the lot").click()
    expect(page.get_by_role("alert")).to_contain_text("reserved")
    look(page, f"parking-new-lot-errors-{size}.png")

    page.goto(f"{live_app.url}/operator/cases?lot_id={lot_id}")
    expect(page.locator("tr[data-session-id]")).to_have_count(1)
    look(page, f"parking-cases-{size}.png")
    page.get_by_label("Write off: reason").fill("barrier camera could not read the plate")
    page.get_by_role("button", name="Write off").click()
    expect(page.locator('[data-field="status"]')).to_have_text("written off")
    page.context.close()


def test_the_inspector_page_at_phone_size(browser: Browser, live_app: LiveApp) -> None:
    lot_id = a_lot(live_app, kind=LotKind.ON_STREET, name="Lê Thái Tổ on-street")
    page = signed_in(browser, live_app, UserRole.INSPECTOR, "/inspector", PHONE_VIEWPORT)
    look(page, "inspector-phone.png")
    page.get_by_label("Lot").select_option(lot_id)
    page.get_by_label("Plate").fill("29a-333.33")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("[data-result]")).to_have_attribute("data-result", "session")
    look(page, "inspector-session-phone.png")
    page.get_by_label("Plate").fill("30E-999.99")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("[data-result]")).to_have_attribute("data-result", "nothing")
    look(page, "inspector-nothing-phone.png")
    page.set_viewport_size(DESKTOP)
    look(page, "inspector-desktop.png")
    page.context.close()
