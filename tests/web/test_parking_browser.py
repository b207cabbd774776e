"""The parking pages in chromium on the whole app (SQLite, Redis, the session's localstripe), in
a Vietnamese browser as the operators and inspectors in Hanoi use them: a lot's day with its
charts, a tariff's and a new lot's errors, the cases and the inspector's page, at desktop and
phone size; nothing wider than the screen, no English left on the lot page.
FAREGATE_SCREENSHOTS=DIR saves the screenshots there to look at (docs/WEB.md)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from faregate.api.context import ENGINE, REDIS
from gateways.localstripe_server import LocalStripe
from parking.occupancy import Occupancy
from parking.records import LotKind
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.api import TEST_COST, make_config
from tests.helpers.browser import PHONE_VIEWPORT, look, opened_page
from tests.helpers.databases import sqlite_url
from tests.helpers.live_app import LiveApp, serving
from tests.helpers.parking import lot_with_a_day
from ticketing.services.users import create_user
from ticketing.users import UserRole

pytestmark = pytest.mark.timeout(600)
PASSWORD = "mật khẩu đủ dài"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# English words of the lot page that a Vietnamese reader must not meet (its data aside: the
# tariff's id and name, the operator's id).
ENGLISH = ("Free spaces", "Vehicles inside", "Entries", "Revenue", "Tariffs", "Open a barrier",
           "Monthly permits", "Change the lot", "under 15 min", "numbers", "Upload")  # fmt: skip


# A table that becomes cards on a phone (`table.stack`) scrolling sideways in its wrap: some
# of its figures hide past the right edge.
STACK_SCROLLS = """() => [...document.querySelectorAll(".table-wrap")]
    .filter((w) => w.querySelector("table.stack") && w.scrollWidth > w.clientWidth + 1)
    .map((w) => w.closest("section")?.id ?? "?")"""


# A status badge whose words wrap onto a second line (`đang / mở` in a narrow column).
BROKEN_BADGES = """() => [...document.querySelectorAll(".badge")]
    .filter((b) => b.offsetParent !== null)
    .filter((b) => { const r = document.createRange(); r.selectNodeContents(b);
                     return r.getClientRects().length > 1; })
    .map((b) => b.textContent)"""


def screen(page: Page, name: str) -> None:
    """Nothing wider than the screen, no card of a table cut at its right, no badge broken
    across lines; saved for the docs."""
    look(page, name)
    if page.viewport_size == PHONE_VIEWPORT:
        assert page.evaluate(STACK_SCROLLS) == [], name
    assert page.evaluate(BROKEN_BADGES) == [], name


@pytest.fixture(scope="module")
def live_app(
    tmp_path_factory: pytest.TempPathFactory, localstripe_server: LocalStripe
) -> Iterator[LiveApp]:
    tmp = tmp_path_factory.mktemp("parking-pages")
    config = make_config(tmp, sqlite_url(tmp / "faregate.sqlite"), localstripe_server)
    with serving(config) as live:
        yield live


@contextmanager
def signed_in(
    browser: Browser, live: LiveApp, role: UserRole, path: str, viewport: ViewportSize
) -> Iterator[Page]:
    """A member of staff with `role` signed in at `path`, in a Vietnamese browser."""
    username = f"{role.value}-{secrets.token_hex(4)}"
    live.run(create_user(live.uows, username, PASSWORD, role, cost=TEST_COST))
    with opened_page(browser, viewport, locale="vi-VN") as page:
        page.goto(f"{live.url}{path}")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(f"{live.url}{path}")
        yield page


def a_lot(live: LiveApp, **changes: object) -> str:
    app = live.app
    return live.run(
        lot_with_a_day(ParkingUnitOfWorkFactory(app[ENGINE]), Occupancy(app[REDIS]), **changes)
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_VIEWPORT], ids=["desktop", "phone"])
def test_the_operator_pages_on_screens(
    browser: Browser, live_app: LiveApp, viewport: ViewportSize
) -> None:
    size = "desktop" if viewport is DESKTOP else "phone"
    lot_id = a_lot(live_app, name="Bãi xe Phố Huế")
    with signed_in(
        browser, live_app, UserRole.OPERATOR, f"/operator/lots/{lot_id}", viewport
    ) as page:
        expect(page.get_by_role("heading", name="Bãi xe Phố Huế")).to_be_visible()
        expect(page.locator("svg.area path")).to_have_count(1)
        expect(page.locator("#dwell-title")).to_contain_text("Thời gian gửi")
        expect(page.locator(".hbar-label").first).to_have_text("dưới 15 phút")
        shown = page.locator("main").inner_text()
        assert [word for word in ENGLISH if word in shown] == []
        screen(page, f"parking-lot-{size}")

        page.locator("#document").fill("id = 'x'\ncurrency = 'VND'")
        page.get_by_role("button", name="Tải lên làm bản nháp").click()
        expect(page.locator("#upload-errors")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("Lỗi: Tệp biểu giá có lỗi (")
        # The file's `name` error is the upload's, not the lot's own name field below it.
        expect(page.locator("#f-name")).not_to_have_attribute("aria-invalid", "true")
        screen(page, f"parking-tariff-errors-{size}")

        page.goto(f"{live_app.url}/operator/lots/new")
        page.get_by_label("Mã bãi xe").fill(f"new-{secrets.token_hex(3)}")
        page.get_by_label("Tên", exact=True).fill("Hàng Bài")
        page.get_by_label("Mã đơn vị vận hành").fill("iparking-hanoi")
        page.get_by_label("Số chỗ", exact=True).fill("10")
        page.get_by_label("Chỗ dành riêng").fill("12")
        page.get_by_label("Biểu phí đầu tiên").select_option("hanoi-car")
        page.get_by_role("button", name="Tạo bãi xe").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "Lỗi: Cấu hình bãi xe không dùng được (reserved: "
        )
        screen(page, f"parking-new-lot-errors-{size}")

        page.goto(f"{live_app.url}/operator/cases?lot_id={lot_id}")
        expect(page.locator("tr[data-session-id]")).to_have_count(1)
        screen(page, f"parking-cases-{size}")
        page.get_by_label("Xóa nợ: lý do").fill("camera ở barie không đọc được biển số")
        page.get_by_role("button", name="Xóa nợ").click()
        expect(page.locator('[data-field="status"]')).to_have_text("đã xóa nợ")


def test_the_inspector_page_at_phone_size(browser: Browser, live_app: LiveApp) -> None:
    lot_id = a_lot(live_app, kind=LotKind.ON_STREET, name="Lê Thái Tổ (dưới lòng đường)")
    with signed_in(browser, live_app, UserRole.INSPECTOR, "/inspector", PHONE_VIEWPORT) as page:
        screen(page, "inspector-phone")
        page.get_by_label("Bãi xe").select_option(lot_id)
        page.get_by_label("Biển số").fill("29a-333.33")
        page.get_by_role("button", name="Kiểm tra").click()
        expect(page.locator("[data-result]")).to_have_attribute("data-result", "session")
        screen(page, "inspector-session-phone")
        page.get_by_label("Biển số").fill("30E-999.99")
        page.get_by_role("button", name="Kiểm tra").click()
        expect(page.locator("[data-result]")).to_have_attribute("data-result", "nothing")
        screen(page, "inspector-nothing-phone")
        page.set_viewport_size(DESKTOP)
        screen(page, "inspector-desktop")
