"""The passenger app as a rider in Hanoi meets it, in chromium at 390x844 on the whole app:
Vietnamese by default (a phone set to Vietnamese, and one set to a language we do not have;
one set to English gets English, as Accept-Language asks), signing up with a phone number and a
Vietnamese name, resetting the password by the code the outbox holds, and switching to English
(remembered). `FAREGATE_SCREENSHOTS=DIR` saves each screen (tests.helpers.browser.look, which
also checks nothing is wider than the screen)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from faregate.outbox_runtime import open_outbox
from tests.helpers.browser import PHONE_VIEWPORT, look, opened_page, wait_for_text
from tests.helpers.live_app import LiveApp
from ticketing.outbox.messages import Template

PASSWORD = "mật khẩu đủ dài"  # a Vietnamese password works too
NEW_PASSWORD = "một mật khẩu mới"


@pytest.fixture(params=["vi-VN"])
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A phone whose language is `request.param` (a rider's in Hanoi: Vietnamese)."""
    with opened_page(browser, PHONE_VIEWPORT, locale=request.param, timeout_ms=15_000) as page:
        yield page


def a_phone() -> tuple[str, str]:
    """A Vietnamese mobile number as a rider writes it, and as it is stored."""
    digits = f"{secrets.randbelow(10**7):07d}"
    return f"091 {digits[:3]} {digits[3:]}", f"+8491{digits}"


def account_of(live: LiveApp, login: str) -> str:
    """The rider's account id, as the API tells them (signed in with their password)."""
    with httpx.Client(base_url=live.url) as http:
        session = http.post("/api/v1/sessions", json={"username": login, "password": PASSWORD})
        token = session.json()["token"]
        account = http.get(
            "/api/v1/passenger/account", headers={"Authorization": f"Bearer {token}"}
        )
        http.delete("/api/v1/sessions/current", headers={"Authorization": f"Bearer {token}"})
    return str(account.json()["account_id"])


def reset_code(live: LiveApp, account_id: str) -> str:
    found = live.run(open_outbox(live.config.settings).messages(account_id))
    codes = [str(m.parameters["code"]) for m in found if m.template is Template.RESET_CODE]
    assert codes, f"no reset code for {account_id}"
    return codes[-1]


def register_on_the_page(page: Page, live: LiveApp, typed: str) -> None:
    page.goto(f"{live.url}/")
    page.get_by_role("button", name="Tạo tài khoản mới").click()
    page.locator("#register-name").fill("Nguyễn Văn A")
    page.locator("#register-login").fill(typed)
    page.locator("#register-password").fill(PASSWORD)
    look(page, "passenger-register-vi")
    page.get_by_role("button", name="Tạo tài khoản", exact=True).click()


@pytest.mark.parametrize("page", ["fr-FR"], indirect=True)
def test_a_phone_in_a_language_we_do_not_have_gets_vietnamese(
    page: Page, live_app: LiveApp
) -> None:
    page.goto(f"{live_app.url}/")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.get_by_role("button", name="Đăng nhập", exact=True).wait_for()


def test_the_page_is_vietnamese_and_a_rider_signs_up_with_a_vietnamese_name(
    page: Page, live_app: LiveApp
) -> None:
    page.goto(f"{live_app.url}/")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.get_by_role("heading", level=1).inner_text() == "Vé của bạn"
    page.get_by_role("heading", name="Đăng nhập").wait_for()
    look(page, "passenger-sign-in-vi")
    typed, stored = a_phone()
    register_on_the_page(page, live_app, typed)
    wait_for_text(page, "#username-shown", "Nguyễn Văn A")
    assert page.locator("#username-shown .detail").inner_text() == stored
    wait_for_text(page, "#balance", "0\xa0₫")
    page.wait_for_function("() => document.querySelector('#qr')?.dataset.step !== undefined")
    assert page.locator("#pass-status").inner_text() == "Đưa mã này vào đầu đọc ở cổng."
    look(page, "passenger-account-vi")


def test_a_rider_resets_the_password_with_the_code_sent_to_the_phone(
    page: Page, live_app: LiveApp
) -> None:
    typed, stored = a_phone()
    register_on_the_page(page, live_app, typed)
    wait_for_text(page, "#username-shown", stored)
    account_id = account_of(live_app, stored)
    page.get_by_role("button", name="Đăng xuất").click()
    page.get_by_role("button", name="Quên mật khẩu?").click()
    page.locator("#reset-login").fill(typed)
    page.get_by_role("button", name="Gửi mã cho tôi").click()
    wait_for_text(page, "#reset-sent", "mã 6 chữ số")
    right = reset_code(live_app, account_id)
    page.locator("#reset-code").fill(f"{(int(right) + 1) % 1_000_000:06d}")
    page.locator("#reset-password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Đặt mật khẩu mới").click()
    wait_for_text(page, "#reset-error", "mã sai, đã dùng hoặc đã hết hạn")
    look(page, "passenger-reset-vi")
    page.locator("#reset-code").fill(reset_code(live_app, account_id))
    page.locator("#reset-password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Đặt mật khẩu mới").click()
    wait_for_text(page, "#account-message", "Mật khẩu đã được đổi")
    assert page.locator("#username").input_value() == typed
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    wait_for_text(page, "#sign-in-error", "sai số điện thoại, e-mail hoặc mật khẩu")
    page.locator("#password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    wait_for_text(page, "#username-shown", stored)


def test_switching_to_english_is_remembered(page: Page, live_app: LiveApp) -> None:
    page.goto(f"{live_app.url}/")
    page.get_by_role("link", name="English").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.get_by_role("heading", level=1).inner_text() == "Your pass"
    page.get_by_role("button", name="Create an account").click()
    look(page, "passenger-register-en")
    page.goto(f"{live_app.url}/")  # remembered (the cookie), whatever the browser asks
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="Sign in", exact=True).wait_for()
    page.get_by_role("link", name="Tiếng Việt").click()
    page.wait_for_function("() => document.documentElement.lang === 'vi'")
