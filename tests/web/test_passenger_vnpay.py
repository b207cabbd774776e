"""A VNPay top-up from the passenger page, in chromium at phone size: the rider picks an
amount, is sent to VNPay (the local stand-in, gateways.vnpay_standin), pays, and comes back to
the page, which says the wallet was topped up; the stand-in sent its IPN twice before the
return and the wallet holds the amount once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from gateways.vnpay_standin import VNPayStandIn
from tests.helpers.browser import PHONE_VIEWPORT, look, opened_page
from tests.helpers.live_app import PASSWORD, LiveApp, register, sign_in

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, PHONE_VIEWPORT, locale="en-US", timeout_ms=20_000) as page:
        yield page


def balance(live: LiveApp, username: str) -> int:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        token = http.post(
            "/api/v1/sessions", json={"username": username, "password": PASSWORD}
        ).json()["token"]
        account = http.get(
            "/api/v1/passenger/account", headers={"Authorization": f"Bearer {token}"}
        ).json()
    return int(account["balance"]["amount"])


def test_a_vnpay_top_up_from_the_page_credits_the_wallet_once(
    page: Page, vnpay_app: LiveApp, stand_in: VNPayStandIn
) -> None:
    stand_in.ipn_copies = 2
    rider = register(vnpay_app, card=False)
    sign_in(page, vnpay_app, rider)
    form = page.locator("#vnpay-form")
    form.wait_for()
    form.get_by_label("Amount").select_option("100000")
    form.get_by_role("button", name="Pay with VNPay").click()
    page.get_by_role("button", name="Pay", exact=True).wait_for()
    assert "100,000 VND" in page.inner_text("body")
    look(page, "passenger-vnpay-standin")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#account-message')?.textContent.includes('was paid')"
    )
    assert "VNPay top-up of 100.000\xa0₫ was paid" in page.inner_text("#account-message")
    page.wait_for_function(
        "() => document.querySelector('#balance')?.textContent.includes('100.000')"
    )
    assert "vnp_" not in page.url  # the result is taken off the address bar
    look(page, "passenger-vnpay-paid")
    assert [a["RspCode"] for a in stand_in.ipn_answers[-2:]] == ["00", "02"]
    assert balance(vnpay_app, rider.username) == 100_000
