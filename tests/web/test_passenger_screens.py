"""A rider in Hanoi on every screen of the passenger app, in Vietnamese (the phone's language),
at phone size (390x844) and desktop size, in chromium on the whole app (SQLite, Redis,
localstripe, the VNPay stand-in): what issue 21 says must hold, at both sizes.

One rider's story per size, screen by screen: the sign-in, sign-up and reset forms; signing up
with a Vietnamese name; the live code read off a screenshot with zxing-cpp and accepted by the
offline verifier with the deny list the device API hands the gates; a VNPay top-up whose IPN
arrives twice and before the return, credited once; a pass bought and renewed; trips with a
problem reported and refunded by finance; the app closed and reopened offline still showing an
accepted code; a sign-in on a second device leaving the pass alone, then moving it (the old
phone refused and told); the phone reported lost from the other device (its token refused on
its next request); and a new phone whose clock is 3 minutes off showing an accepted code.

Every screen is checked for text wider than the screen, cut inside its box, squeezed to a word
a line or spilling out of its card, and saved as `passenger-<screen>-<size>.png` when
FAREGATE_SCREENSHOTS names a directory (docs/WEB.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from faregate_data import HANOI_FEED
from gateways.vnpay_standin import VNPayStandIn
from tests.helpers.browser import PHONE_VIEWPORT, look, wait_for_text
from tests.helpers.http import loopback_sync
from tests.helpers.live_app import LiveApp, shown_token
from tests.helpers.payments import ride_the_metro
from ticketing.fares.feed import load_feed
from ticketing.services.users import ScryptCost, create_user
from ticketing.users import UserRole

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium

SIZES = {"phone": PHONE_VIEWPORT, "desktop": {"width": 1280, "height": 800}}
PASSWORD = "mật khẩu đủ dài"
NAME = "Nguyễn Thị Thu Hương"
# Text cut inside its box: an element that clips (overflow other than visible) and whose
# content is wider than it. Form fields scroll their own text, tables scroll in their wrap and
# texts for screen readers only sit in a 1-pixel box.
CUT_TEXT = """() => [...document.querySelectorAll("body *")]
    .filter((e) => e.offsetParent !== null && !e.closest("input, select, textarea, .table-wrap"))
    .filter((e) => e.clientWidth > 1 && getComputedStyle(e).overflowX !== "visible")
    .filter((e) => e.scrollWidth > e.clientWidth + 1)
    .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}: ${e.textContent.slice(0, 60)}`)
"""
# Text squeezed or spilling: a list line's text narrower than 10rem beside what sits at its
# side (a word a line), or anything reaching past the right edge of its card.
SQUEEZED = """() => [
    ...[...document.querySelectorAll(".items li > :first-child")]
        .filter((e) => e.offsetParent !== null && e.clientWidth < 160)
        .map((e) => `squeezed: ${e.textContent.slice(0, 40)}`),
    ...[...document.querySelectorAll(".card *")]
        .filter((e) => e.offsetParent !== null && e.getClientRects().length > 0)
        .filter((e) => e.getBoundingClientRect().right
            > e.closest(".card").getBoundingClientRect().right + 1)
        .map((e) => `past its card: ${e.tagName.toLowerCase()} ${e.textContent.slice(0, 40)}`),
]"""
TOKEN = """async () => {
    const db = await new Promise((ok, fail) => {
        const open = indexedDB.open("faregate");
        open.onsuccess = () => ok(open.result);
        open.onerror = () => fail(open.error);
    });
    const value = await new Promise((ok) => {
        const got = db.transaction("kv").objectStore("kv").get("token");
        got.onsuccess = () => ok(got.result);
    });
    db.close();
    return value;
}"""


class Devices:
    """The phones and laptops of one test, each a browser context of its own, in Vietnamese;
    no page may throw."""

    def __init__(self, browser: Browser, viewport: dict[str, int]) -> None:
        self.browser, self.viewport = browser, viewport
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def open(self) -> Page:
        context = self.browser.new_context(viewport=self.viewport, locale="vi-VN")  # type: ignore[arg-type]
        self.contexts.append(context)
        return self.page(context)

    def page(self, context: BrowserContext) -> Page:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page


@pytest.fixture(params=list(SIZES))
def devices(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Devices]:
    found = Devices(browser, SIZES[request.param])
    yield found
    for context in found.contexts:
        context.close()
    assert found.errors == []


def screen(page: Page, name: str) -> None:
    """Nothing wider than the screen or cut inside its box; saved for the docs."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    look(page, f"passenger-{name}-{'phone' if width < 600 else 'desktop'}")
    assert page.evaluate(CUT_TEXT) == [], name
    assert page.evaluate(SQUEEZED) == [], name


def account_beside_the_pass(page: Page) -> bool:
    """The wallet beside the pass card (a computer's two columns), not below it (a phone's)."""
    card, wallet = page.locator("#live-pass").bounding_box(), page.locator("#wallet").bounding_box()
    assert card is not None
    assert wallet is not None
    if wallet["y"] >= card["y"] + card["height"]:
        return False
    assert wallet["x"] >= card["x"] + card["width"], (card, wallet)  # beside, never on top
    return True


def sign_in(page: Page, live: LiveApp, login: str) -> None:
    page.goto(f"{live.url}/")
    page.locator("#username").fill(login)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()


def account_of(live: LiveApp, token: str) -> httpx.Response:
    """What the passenger API answers a phone's bearer token about its account."""
    with loopback_sync(live.url, timeout=30) as http:
        return http.get("/api/v1/passenger/account", headers={"Authorization": f"Bearer {token}"})


def refund_the_reported_trip(live: LiveApp) -> None:
    """Finance refunds the trip's whole fare (15,000) through the finance API."""
    username = f"fin-{secrets.token_hex(3)}"
    live.run(create_user(live.uows, username, PASSWORD, UserRole.FINANCE, cost=ScryptCost(n=2**8)))
    with loopback_sync(live.url, timeout=30) as http:
        token = http.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['token']}"}
        (case,) = http.get("/api/v1/finance/trip-cases?status=open", headers=auth).json()["cases"]
        body = {"decision": "refund", "amount": 15_000, "reason": "cổng ra bị lỗi"}
        resolved = http.post(
            f"/api/v1/finance/trip-cases/{case['case_id']}/resolve", json=body, headers=auth
        )
        assert resolved.status_code == 200, resolved.text


def test_a_rider_in_hanoi_on_every_screen(
    devices: Devices, vnpay_app: LiveApp, stand_in: VNPayStandIn
) -> None:
    # Signed out: the page in Vietnamese by default; the sign-up and reset forms.
    phone = devices.open()
    phone.goto(f"{vnpay_app.url}/")
    assert phone.locator("html").get_attribute("lang") == "vi"
    assert phone.get_by_role("heading", level=1).inner_text() == "Vé của bạn"
    screen(phone, "sign-in")
    phone.get_by_role("button", name="Quên mật khẩu?").click()
    phone.locator("#reset-login").wait_for()
    screen(phone, "reset")
    phone.goto(f"{vnpay_app.url}/")
    phone.get_by_role("button", name="Tạo tài khoản mới").click()
    login = f"huong.{secrets.token_hex(3)}@example.vn"
    phone.locator("#register-name").fill(NAME)
    phone.locator("#register-login").fill(login)
    phone.locator("#register-password").fill(PASSWORD)
    screen(phone, "register")
    phone.get_by_role("button", name="Tạo tài khoản", exact=True).click()
    wait_for_text(phone, "#username-shown", NAME)
    first = shown_token(phone)
    assert vnpay_app.accepted(first)
    screen(phone, "account")
    assert account_beside_the_pass(phone) == (devices.viewport != PHONE_VIEWPORT)
    account = str(account_of(vnpay_app, phone.evaluate(TOKEN)).json()["account_id"])

    # A VNPay top-up: the IPN twice, both before the rider is back; credited once.
    stand_in.ipn_copies = 2
    form = phone.locator("#vnpay-form")
    form.get_by_label("Số tiền").select_option("100000")
    form.get_by_role("button", name="Thanh toán bằng VNPay").click()
    phone.get_by_role("button", name="Pay", exact=True).click()
    wait_for_text(phone, "#account-message", "100.000\xa0₫")
    wait_for_text(phone, "#balance", "100.000\xa0₫")
    assert "vnp_" not in phone.url
    assert [a["RspCode"] for a in stand_in.ipn_answers[-2:]] == ["00", "02"]
    wait_for_text(phone, "#receipts", "Nạp tiền vào ví qua VNPay")  # the rider's language
    screen(phone, "vnpay-paid")

    # Rides on a past day; a pass bought and renewed; a problem reported on a trip, refunded.
    vnpay_app.run(
        ride_the_metro(vnpay_app.uows, load_feed(HANOI_FEED), account, date(2026, 11, 24))
    )
    phone.reload()
    day_pass = phone.locator("#passes ul.catalogue li").filter(has_text="Vé ngày Metro 2A")
    day_pass.get_by_role("button", name="Mua").click()
    wait_for_text(phone, "#balance", "43.000\xa0₫")  # 100,000 - 27,000 of fares - 30,000
    wait_for_text(phone, "#pass-held", "Vé ngày Metro 2A")
    wait_for_text(phone, "#receipts", "Vé ngày Metro 2A")  # the pass, named as on sale
    assert "m2a_day" not in phone.locator("#receipts").inner_text()
    phone.locator("#passes ul.held").get_by_role("button", name="Gia hạn cho ngày hôm sau").click()
    wait_for_text(phone, "#balance", "13.000\xa0₫")  # the next day's, bought ahead
    screen(phone, "passes")
    trip = phone.locator("#trips li").first
    trip.get_by_text("Báo cáo sự cố").click()
    trip.get_by_label("Vấn đề gặp phải").select_option("missed_tap_out")
    trip.get_by_role("button", name="Gửi báo cáo").click()
    phone.locator("#cases li").first.wait_for()
    screen(phone, "trips")
    refund_the_reported_trip(vnpay_app)
    phone.reload()
    wait_for_text(phone, "#cases", "Đã hoàn 15.000\xa0₫: cổng ra bị lỗi")
    wait_for_text(phone, "#balance", "28.000\xa0₫")
    screen(phone, "trip-case-refunded")

    # Closed and reopened with no network: the pass and a code the gate accepts.
    state = phone.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
    assert state in {"activating", "activated"}
    context = phone.context
    context.set_offline(True)
    phone.close()
    phone = devices.page(context)
    phone.goto(f"{vnpay_app.url}/")
    assert vnpay_app.accepted(shown_token(phone))
    wait_for_text(phone, "#network-status", "Ngoại tuyến")
    # The card names the pass bought and its end, not the credential's "Trả theo lượt".
    wait_for_text(phone, "#pass-held", "Vé ngày Metro 2A, hiệu lực đến")
    assert phone.locator("#pass-heading [data-fact=product]").inner_text() == "Vé ngày Metro 2A"
    screen(phone, "offline")
    context.set_offline(False)

    # Signed in on a second device: the first phone's code still works; then the pass moves.
    other = devices.open()
    sign_in(other, vnpay_app, login)
    other.locator("#pass-elsewhere").wait_for()
    wait_for_text(other, "#balance", "28.000\xa0₫")  # the account is there to read
    assert vnpay_app.accepted(shown_token(phone))
    screen(other, "pass-elsewhere")
    other.get_by_role("button", name="Dùng vé của tôi trên điện thoại này").click()
    moved = shown_token(other)
    assert vnpay_app.accepted(moved)
    assert not vnpay_app.accepted(shown_token(phone))
    context.set_offline(True)  # the old phone, back online, asks about its pass
    context.set_offline(False)
    phone.locator("#pass-elsewhere-detail").wait_for()
    assert phone.locator("#live-pass").is_hidden()
    phone.locator("#account-message").wait_for(state="hidden")  # no longer "offline"
    screen(phone, "moved")

    # The other device is lost: reported from the old phone, its token is refused at once.
    lost_token = other.evaluate(TOKEN)
    phone.get_by_label("Tôi đã mất điện thoại chứa vé").check()
    phone.get_by_role("button", name="Báo mất điện thoại").click()
    phone.locator("#sign-in-form").wait_for()
    assert account_of(vnpay_app, lost_token).status_code == 401
    assert not vnpay_app.accepted(moved)
    other.context.set_offline(True)
    other.context.set_offline(False)
    wait_for_text(other, "#sign-in-error", "Phiên đăng nhập đã kết thúc")

    # A new phone whose clock is 3 minutes fast still shows a code the gate accepts.
    new = devices.open()
    new.clock.install(time=datetime.now(UTC) + timedelta(minutes=3))
    sign_in(new, vnpay_app, login)
    assert vnpay_app.accepted(shown_token(new))
    assert new.locator("#clock-warning").is_hidden()
