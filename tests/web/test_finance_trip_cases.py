"""The finance page of trip cases at phone size, in chromium on the whole app: a problem a
rider reported is listed with its trip and fare; finance declines one with a reason and
refunds another on the page; the rider's wallet gets the refund once; a bad amount is one
Error: line; a post without the form token is refused."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from faregate_data import HANOI_FEED
from tests.helpers.api import TEST_COST
from tests.helpers.browser import PHONE_VIEWPORT, look, opened_page
from tests.helpers.live_app import PASSWORD, LiveApp, register
from tests.helpers.payments import ride_the_metro
from ticketing.fares.feed import load_feed
from ticketing.services.users import create_user
from ticketing.users import UserRole

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, PHONE_VIEWPORT) as page:
        yield page


def reported(live: LiveApp) -> tuple[str, str]:
    """A rider who rode twice on 24 Nov 2026 and reported both trips: username, token."""
    rider = register(live, top_up=100_000)
    live.run(ride_the_metro(live.uows, load_feed(HANOI_FEED), rider.account_id, date(2026, 11, 24)))
    with httpx.Client(base_url=live.url, timeout=30) as http:
        token = http.post(
            "/api/v1/sessions", json={"username": rider.username, "password": PASSWORD}
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        (day,) = http.get("/api/v1/passenger/trips", headers=auth).json()["days"]
        for trip, kind in zip(day["trips"], ("missed_tap_out", "double_charge"), strict=True):
            body = {
                "service_day": trip["service_day"], "started_at": trip["started_at"],
                "route_id": trip["route_id"], "kind": kind, "note": "please check",
            }  # fmt: skip
            assert http.post("/api/v1/passenger/cases", json=body, headers=auth).status_code == 200
    return rider.username, token


def test_finance_decides_trip_cases_on_its_page(page: Page, live_app: LiveApp) -> None:
    _, token = reported(live_app)
    username = f"fin-{secrets.token_hex(4)}"
    live_app.run(create_user(live_app.uows, username, PASSWORD, UserRole.FINANCE, cost=TEST_COST))
    page.goto(f"{live_app.url}/finance/trip-cases")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_app.url}/finance/trip-cases")
    rows = page.locator("tr[data-case-id]", has_text="please check")
    expect(rows.filter(has_text="open")).to_have_count(2)
    look(page, "finance-trip-cases")

    first = rows.filter(has_text="missed tap out").first
    first.get_by_label("Decision").select_option("refund")
    first.get_by_label("Refund (dong; empty: the whole fare)").fill("lots")
    first.get_by_label("Reason (the rider reads it)").fill("gate fault")
    first.get_by_role("button", name="Decide").click()
    expect(page.get_by_role("alert")).to_contain_text("is not an amount in dong")

    first = page.locator("tr[data-case-id]", has_text="missed tap out").first
    first.get_by_label("Decision").select_option("refund")
    first.get_by_label("Reason (the rider reads it)").fill("the exit gate was faulty")
    first.get_by_role("button", name="Decide").click()
    page.wait_for_url(lambda url: "done=refunded" in url)
    second = page.locator("tr[data-case-id]", has_text="double charge").first
    second.get_by_label("Decision").select_option("decline")
    second.get_by_label("Reason (the rider reads it)").fill("two different trips")
    second.get_by_role("button", name="Decide").click()
    page.wait_for_url(lambda url: "done=declined" in url)
    look(page, "finance-trip-cases-decided")

    with httpx.Client(base_url=live_app.url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {token}"}
        mine = http.get("/api/v1/passenger/cases", headers=auth).json()["cases"]
        assert sorted((c["status"], c["refunded"], c["reason"]) for c in mine) == [
            ("declined", None, "two different trips"),
            ("refunded", 15_000, "the exit gate was faulty"),
        ]
        account = http.get("/api/v1/passenger/account", headers=auth).json()
        assert account["balance"]["amount"] == 100_000 - 27_000 + 15_000
        case_id = mine[0]["case_id"]
        forged = http.post(
            f"/finance/trip-cases/{case_id}/resolve",
            data={"decision": "refund", "reason": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert forged.status_code == 403  # a passenger, and no form token
