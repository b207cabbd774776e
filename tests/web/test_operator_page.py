"""The operator page in chromium, on the placeholder contract's data: live occupancy, devices,
unpaid exits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from faregate.web import LotOccupancy
from tests.helpers.browser import opened_page

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium

AT = datetime(2026, 11, 29, 10, 5, 30, tzinfo=UTC)


def lot(occupied: int, lot_id: str = "HK-01", at: datetime = AT) -> LotOccupancy:
    return LotOccupancy(
        lot_id=lot_id, name="Hàng Đào", capacity=120, occupied=occupied,
        free=max(120 - occupied, 0), updated_at=at,
    )  # fmt: skip


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, {"width": 1280, "height": 900}, timeout_ms=10_000) as page:
        yield page


def test_an_entry_shows_on_the_page_without_a_reload(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/operator")
    page.wait_for_function(
        "() => document.querySelector('#live-status').textContent === 'Live updates: on.'"
    )
    row = page.locator('tr[data-lot-id="HK-01"]')
    assert row.locator('[data-field="occupied"]').inner_text() == "87"
    page.evaluate("() => { window.sameDocument = true; }")

    server.publish(lot(88))  # one more vehicle in, as the device API will publish it

    page.wait_for_function(
        """() => document.querySelector('tr[data-lot-id="HK-01"] [data-field="occupied"]')
            .textContent === '88'"""
    )
    assert row.locator('[data-field="free"]').inner_text() == "32"
    assert row.locator('[data-field="percent"]').inner_text() == "73%"
    assert row.locator('[data-field="updated"]').inner_text() == "17:05:30"  # Hanoi time
    assert page.evaluate("() => window.sameDocument") is True  # no reload happened
    # The other lot is untouched.
    assert page.locator('tr[data-lot-id="HK-02"] [data-field="occupied"]').inner_text() == "59"


def test_the_page_shows_devices_and_unpaid_exits(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/operator")
    assert page.get_by_role("heading", level=1).inner_text() == "Hoàn Kiếm Parking"
    late = page.locator('tr[data-device-id="HK-01-OUT"]')
    assert late.inner_text().split("\t")[3:] == ["—", "1 h 5 min ago Late", "312"]
    never = page.locator('tr[data-device-id="HK-02-IN"]')
    assert never.inner_text().split("\t")[3:] == ["—", "never Late", "unknown"]
    fresh = page.locator('tr[data-device-id="HK-01-IN"]')
    assert fresh.inner_text().split("\t")[3:] == ["—", "2 min ago", "0"]
    unpaid = page.locator("#uncollected")
    assert "2 stays, 75.000\xa0₫ to follow up." in unpaid.inner_text()
    assert "card declined" in unpaid.inner_text()
