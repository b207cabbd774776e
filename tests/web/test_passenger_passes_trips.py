"""Passes and trips on the signed-in passenger page, in chromium at phone size on the whole app
(SQLite, Redis, localstripe): the catalogue with prices and validity, buying a pass, the pass
card naming it and its end, renewing it for the next month; trips by service day with each
day's total and cap progress, a bus ride said to be tap-on-only, an exit without entry
explained, and older days loaded a page at a time; a problem reported on a trip and the
refund finance decided shown to the rider."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, datetime, time

import httpx
import pytest
from playwright.sync_api import Browser, Page

from faregate_data import HANOI_FEED
from tests.helpers.api import TEST_COST
from tests.helpers.browser import PHONE_VIEWPORT, look, opened_page, wait_for_text
from tests.helpers.live_app import PASSWORD, LiveApp, register, sign_in
from tests.helpers.payments import HANOI, ride_the_metro, tap_and_price
from ticketing.fares.feed import load_feed
from ticketing.services.users import create_user
from ticketing.taps import TapKind
from ticketing.users import UserRole

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, PHONE_VIEWPORT, locale="en-US", timeout_ms=20_000) as page:
        yield page


def test_buying_and_renewing_a_pass_on_the_page(page: Page, live_app: LiveApp) -> None:
    rider = register(live_app, top_up=500_000)
    sign_in(page, live_app, rider)
    catalogue = page.locator("#passes ul.catalogue li")
    catalogue.first.wait_for()
    month = catalogue.filter(has_text="Metro 2A monthly pass")
    assert "200.000\xa0₫" in month.inner_text()
    assert "Monthly pass · valid until" in month.inner_text()
    look(page, "passenger-passes-catalogue")

    month.get_by_role("button", name="Buy").click()
    wait_for_text(page, "#account-message", "Metro 2A monthly pass: paid 200.000\xa0₫")
    wait_for_text(page, "#pass-held", "Metro 2A monthly pass, valid until")
    wait_for_text(page, "#balance", "300.000\xa0₫")
    wait_for_text(page, "#receipts", "Metro 2A monthly pass")  # named, not "Pass m2a_month"
    held = page.locator("#passes ul.held li")
    assert held.count() == 1
    held.get_by_role("button", name="Renew for the next month").click()
    wait_for_text(page, "#account-message", "Metro 2A monthly pass: paid 200.000\xa0₫")
    wait_for_text(page, "#balance", "100.000\xa0₫")
    page.wait_for_function("() => document.querySelectorAll('#passes ul.held li').length === 2")
    assert "Starts" in held.nth(0).inner_text()  # the next month, bought ahead
    assert held.get_by_role("button").count() == 0  # renewed once: not offered again
    look(page, "passenger-passes-held")


def test_a_postpaid_rider_without_a_card_is_told_why_no_pass_is_sold(
    page: Page, live_app: LiveApp
) -> None:
    rider = register(live_app, card=False, mode="postpaid_card")
    sign_in(page, live_app, rider)
    day_pass = page.locator("#passes ul.catalogue li").filter(has_text="Metro 2A day pass")
    day_pass.get_by_role("button", name="Buy").click()
    wait_for_text(page, "#account-message", "not sold on credit")
    assert page.locator("#account-message").get_attribute("role") == "alert"


def test_trips_by_day_with_caps_and_every_ride_explained(page: Page, live_app: LiveApp) -> None:
    rider = register(live_app, top_up=200_000)
    feed = load_feed(HANOI_FEED)
    days = [date(2026, 11, d) for d in range(16, 25)]  # nine days: two pages of seven
    rides = [  # a bus ride a day, then line 2A twice (below the month's cap of 200,000)
        (datetime.combine(day, time(8), HANOI), "bus32", "bx_giap_bat", TapKind.BOARD)
        for day in days[:-2]
    ]
    last = days[-1]
    rides += [
        (datetime.combine(last, time(8), HANOI), "bus32", "bx_giap_bat", TapKind.BOARD),
        (datetime.combine(last, time(9), HANOI), "m2a", "m2a_05", TapKind.EXIT),
    ]
    live_app.run(tap_and_price(live_app.uows, feed, rider.account_id, rides))
    live_app.run(ride_the_metro(live_app.uows, feed, rider.account_id, days[-2]))
    sign_in(page, live_app, rider)
    blocks = page.locator("#trips .trip-day")
    blocks.first.wait_for()
    assert blocks.count() == 7
    newest = blocks.nth(0)
    assert newest.get_attribute("data-day") == "2026-11-24"
    bus = newest.locator("li[data-ride=tap_on_only]")
    assert "Bus 32 from" in bus.inner_text()
    assert "tap on only, no tap-off needed" in bus.inner_text()
    no_entry = newest.locator("li[data-ride=no_entry]").inner_text()
    assert "Exit at Thượng Đình" in no_entry
    assert "no entry tap" in no_entry
    assert "→" not in no_entry
    metro_day = blocks.nth(1)
    assert "27.000\xa0₫" in metro_day.locator("h3").inner_text()
    assert "27.000\xa0₫ of 30.000\xa0₫ that day on Metro 2A" in metro_day.inner_text()
    look(page, "passenger-trips")

    page.get_by_role("button", name="Older trips").click()
    page.wait_for_function("() => document.querySelectorAll('#trips .trip-day').length === 9")
    assert page.get_by_role("button", name="Older trips").is_hidden()
    assert blocks.nth(8).get_attribute("data-day") == "2026-11-16"


def test_a_problem_reported_on_a_trip_and_finance_s_answer(page: Page, live_app: LiveApp) -> None:
    rider = register(live_app, top_up=100_000)
    live_app.run(
        ride_the_metro(live_app.uows, load_feed(HANOI_FEED), rider.account_id, date(2026, 11, 24))
    )
    sign_in(page, live_app, rider)
    trip = page.locator("#trips li").first
    trip.get_by_text("Report a problem").click()
    trip.get_by_label("What went wrong").select_option("missed_tap_out")
    trip.get_by_label("Anything finance should know (optional)").fill("I tapped out at Yên Nghĩa")
    trip.get_by_role("button", name="Send report").click()
    wait_for_text(page, "#account-message", "Reported")
    wait_for_text(page, "#cases", "Open: finance will look at it")
    look(page, "passenger-trip-case-open")

    username = f"fin-{secrets.token_hex(3)}"
    live_app.run(create_user(live_app.uows, username, PASSWORD, UserRole.FINANCE, cost=TEST_COST))
    with httpx.Client(base_url=live_app.url, timeout=30) as http:
        finance = http.post(
            "/api/v1/sessions", json={"username": username, "password": PASSWORD}
        ).json()["token"]
        auth = {"Authorization": f"Bearer {finance}"}
        (case,) = http.get("/api/v1/finance/trip-cases?status=open", headers=auth).json()["cases"]
        body = {"decision": "refund", "amount": 5_000, "reason": "the exit gate was faulty"}
        resolved = http.post(
            f"/api/v1/finance/trip-cases/{case['case_id']}/resolve", json=body, headers=auth
        )
        assert resolved.status_code == 200, resolved.text
    page.reload()
    wait_for_text(page, "#cases", "Refunded 5.000\xa0₫: the exit gate was faulty")
    wait_for_text(page, "#balance", "78.000\xa0₫")  # 100,000 - 27,000 of fares + 5,000
    look(page, "passenger-trip-case-refunded")
