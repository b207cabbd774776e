"""The passenger page on real data, in chromium: the whole app (`create_app`: database on
SQLite, Redis, the session's localstripe) on a loopback port; the passenger registers through
the API, then everything else happens on the page: sign in, the live QR (read off a screenshot
and accepted by our verifier, with the deny list the server holds), wallet, top-up, trips,
receipts, a reload that keeps the same credential, a lost phone, sign out (the app's offline
and one-phone behaviour: test_passenger_app.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from faregate_data import HANOI_FEED
from qr.decision import Reason
from tests.helpers.browser import wait_for_text
from tests.helpers.http import loopback_sync
from tests.helpers.live_app import LiveApp, register, shown_token, sign_in
from tests.helpers.payments import ride_the_metro
from ticketing.fares.feed import load_feed

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == []


def test_sign_in_shows_a_live_code_the_gates_accept_and_the_account(
    page: Page, live_app: LiveApp
) -> None:
    rider = register(live_app, top_up=100_000)
    live_app.run(
        ride_the_metro(live_app.uows, load_feed(HANOI_FEED), rider.account_id, date(2026, 11, 24))
    )
    sign_in(page, live_app, rider)
    token = shown_token(page)
    assert live_app.accepted(token)
    wait_for_text(page, "#balance", "73.000\xa0₫")  # 100,000 topped up, 27,000 of fares
    trips = page.locator("#trips li")
    assert trips.count() == 2
    assert "15.000\xa0₫" in trips.nth(0).inner_text()  # the day's trips in the order ridden
    assert "12.000\xa0₫" in trips.nth(1).inner_text()
    assert "Wallet top-up" in page.locator("#receipts").inner_text()
    assert "top-up" in page.locator("#charges").inner_text().lower()  # "Wallet top-up"

    # The page's own top-up.
    page.locator("#top-up-amount").select_option("50000")  # the card top-up (VNPay has its own)
    page.get_by_role("button", name="Top up from my card").click()
    wait_for_text(page, "#account-message", "Topped up 50.000\xa0₫.")
    wait_for_text(page, "#balance", "123.000\xa0₫")

    # A reload keeps the credential this tab fetched: no new one, the code still accepted.
    page.reload()
    again = shown_token(page)
    assert again[:120] == token[:120]  # same signed credential (the code part may have moved)
    assert live_app.accepted(again)


def shown_step(page: Page) -> int:
    return int(page.locator("#qr").get_attribute("data-step") or "-1")


def wait_for_step(page: Page, step: int) -> None:
    page.wait_for_function("(step) => document.querySelector('#qr').dataset.step == step", arg=step)


def test_signed_in_and_offline_the_code_rotates_and_the_old_one_goes_stale(
    page: Page, context: BrowserContext, live_app: LiveApp
) -> None:
    rider = register(live_app, card=False)
    page.clock.install(time=datetime.now(UTC))
    sign_in(page, live_app, rider)
    first = shown_token(page)
    step = shown_step(page)
    period = int(page.locator("#countdown-bar").get_attribute("max") or "0")
    assert period > 0

    def in_step(n: int) -> datetime:
        return datetime.fromtimestamp(n * period + 1, UTC)

    assert live_app.reason(first, in_step(step)) is Reason.ACCEPTED
    context.set_offline(True)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.clock.run_for(period * 1000)
    wait_for_step(page, step + 1)
    second = shown_token(page)
    assert second != first
    assert live_app.reason(second, in_step(step + 1)) is Reason.ACCEPTED
    page.clock.run_for(period * 1000)
    wait_for_step(page, step + 2)
    third = shown_token(page)
    assert live_app.reason(third, in_step(step + 2)) is Reason.ACCEPTED
    assert live_app.reason(first, in_step(step + 2)) is Reason.STALE_CODE
    assert requests == []  # the page asked the network for nothing while offline


def test_wrong_password_is_one_error_line(page: Page, live_app: LiveApp) -> None:
    rider = register(live_app, card=False)
    sign_in(page, live_app, rider, password="not the password at all")
    alert = page.locator("#sign-in-error")
    alert.wait_for()
    assert alert.inner_text() == "Error: wrong username or password."
    assert page.locator("#account").is_hidden()


def test_lost_phone_and_sign_out(page: Page, live_app: LiveApp) -> None:
    rider = register(live_app, card=False)
    sign_in(page, live_app, rider)
    old = shown_token(page)
    assert live_app.accepted(old)
    page.get_by_label("I lost the phone that held my pass").check()
    page.get_by_role("button", name="Report lost phone").click()
    wait_for_text(page, "#account-message", "Reported.")
    page.locator("#sign-in-form").wait_for()  # every session ended, this one too
    assert not live_app.accepted(old)

    # Signed in again (the new phone), the page takes a new pass.
    sign_in(page, live_app, rider)
    page.wait_for_function(
        "(old) => document.querySelector('#qr').dataset.step !== undefined", arg=old
    )
    new = shown_token(page)
    assert new[:120] != old[:120]
    assert live_app.accepted(new)

    token = page.evaluate(
        """async () => {
            const db = await new Promise((ok) => {
                const open = indexedDB.open("faregate"); open.onsuccess = () => ok(open.result);
            });
            return await new Promise((ok) => {
                const got = db.transaction("kv").objectStore("kv").get("token");
                got.onsuccess = () => { db.close(); ok(got.result); };
            });
        }"""
    )
    page.get_by_role("button", name="Sign out").click()
    page.locator("#sign-in-form").wait_for()
    assert page.locator("#live-pass").is_hidden()  # the pass left this phone with the session
    with loopback_sync(live_app.url) as http:
        refused = http.get(
            "/api/v1/passenger/account", headers={"Authorization": f"Bearer {token}"}
        )
    assert refused.status_code == 401


def test_the_app_serves_no_staff_page_to_a_passenger(page: Page, live_app: LiveApp) -> None:
    rider = register(live_app, card=False)
    sign_in(page, live_app, rider)
    shown_token(page)
    response = page.goto(f"{live_app.url}/finance")
    assert response is not None
    assert response.status in {401, 403, 404}
    assert "Settlement" not in page.content()
