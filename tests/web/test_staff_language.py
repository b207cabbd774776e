"""The staff pages (operator, finance) are Vietnamese first, as the passenger pages are: their
texts from the same catalogue, money as `75.000 ₫`, days and times in Hanoi time as a
Vietnamese reader writes them; English by the switch (remembered) or `Accept-Language`. Fixed
data (tests.helpers.staff_pages) on the pages' test server; the live texts of the operator
page's script in a browser set to Vietnamese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from faregate import i18n
from tests.helpers.browser import PHONE_VIEWPORT, look, opened_page

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium


def get(server: Any, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers=headers, timeout=30)


def test_the_finance_page_is_vietnamese_by_default(server: Any) -> None:
    answer = get(server, "/finance")
    html = answer.text
    assert answer.headers["Content-Language"] == "vi"
    assert '<html lang="vi">' in html
    assert "<h1>Quyết toán</h1>" in html
    assert "Ngày vận hành" in html
    assert ">Cân đối<" in html
    assert ">Lệch<" in html
    assert "Thứ Bảy 28 tháng 11 2026" in html  # the report's day
    assert "9.804.561.000\xa0₫" in html  # a day's money collected
    assert "Service days" not in html  # nothing left in English
    # The page's script gets only its own words.
    assert '"Live updates: on."' in html or '"Settling"' in html
    assert '"Buy"' not in html


def test_english_by_the_switch_remembered_or_by_the_browser(server: Any) -> None:
    switched = get(server, "/finance?day=2026-11-28&lang=en")
    assert switched.headers["Content-Language"] == "en"
    assert "Service days" in switched.text
    assert "Saturday 28 November 2026" in switched.text
    assert "9.804.561.000\xa0₫" in switched.text  # money is one convention in every language
    assert switched.cookies[i18n.LANG_COOKIE] == "en"
    # The switch's links keep the page and its day.
    assert 'href="/finance?day=2026-11-28&amp;lang=vi"' in switched.text
    remembered = httpx.get(f"{server.url}/operator", cookies={i18n.LANG_COOKIE: "en"}, timeout=30)
    assert "Exits where the fee could not be taken" in remembered.text
    english = get(server, "/operator", **{"Accept-Language": "en-GB,en;q=0.8"})
    assert "Devices" in english.text
    assert "1 h 5 min ago" in english.text


def test_the_operator_page_is_vietnamese_by_default(server: Any) -> None:
    html = get(server, "/operator").text
    assert '<html lang="vi">' in html
    assert "Lượt ra chưa thu được phí" in html
    assert "2 lượt gửi xe, 75.000\xa0₫ cần theo dõi." in html
    assert "1 giờ 5 phút trước" in html
    assert "thẻ bị từ chối" in html  # why a fee was not taken, translated
    assert "giờ Hà Nội" in html


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, PHONE_VIEWPORT, locale="vi-VN", timeout_ms=20_000) as page:
        yield page


def test_the_operator_and_finance_pages_in_a_vietnamese_browser(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/operator")
    page.wait_for_function(
        "() => document.querySelector('#live-status').textContent.includes('đang bật')"
    )
    assert page.locator("#live-status").inner_text() == "Cập nhật trực tiếp: đang bật."
    look(page, "operator-vi-phone")  # nothing wider than the phone
    page.goto(f"{server.url}/finance?day=2026-11-28")
    assert page.get_by_role("heading", level=2, name="Thứ Bảy 28 tháng 11 2026").is_visible()
    look(page, "finance-vi-phone")
