"""Vietnamese first: the catalogue is complete, the language is chosen as faregate.i18n says
(the switch, the remembered choice, Accept-Language, else Vietnamese), money and times are
written as Vietnamese readers expect. The passenger page over HTTP, no browser (the browser
tests are tests/web/test_passenger_language.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate import i18n
from faregate.web import add_web_routes

ROOT = Path(__file__).resolve().parents[2]


def test_every_text_has_a_vietnamese_translation() -> None:
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "messages"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("asked", "cookie", "header", "expected"),
    [
        (None, None, None, "vi"),  # nothing asked: Vietnamese
        (None, None, "fr-FR,fr;q=0.9", "vi"),  # none of ours asked: Vietnamese
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "fr;q=1, en;q=0.5, vi;q=0.8", "vi"),  # q-values, not order
        (None, None, "vi-VN, en;q=0.1", "vi"),
        (None, None, "en;q=0, *", "vi"),  # q=0 is "not this one"
        (None, None, "en;q=bad", "vi"),
        (None, "en", "vi", "en"),  # the remembered choice beats the browser
        ("vi", "en", "en", "vi"),  # the switch beats both
        ("xx", "nonsense", None, "vi"),
    ],
)
def test_the_language_is_chosen_switch_first_then_remembered_then_browser(
    asked: str | None, cookie: str | None, header: str | None, expected: str
) -> None:
    assert i18n.choose_language(asked, cookie, header) == expected


def test_money_and_times_as_vietnamese_readers_write_them() -> None:
    assert i18n.money(100_000, "VND") == "100.000\xa0₫"
    assert i18n.money(0, "VND") == "0\xa0₫"
    at = datetime(2026, 12, 7, 17, 5, tzinfo=UTC)  # 00:05 on the 8th in Hanoi
    assert i18n.hanoi_time(at, "en") == "8 Dec 2026, 00:05"
    assert i18n.hanoi_time(at, "vi") == "8 thg 12 2026, 00:05"
    assert i18n.day_name(date(2026, 11, 24), "vi") == "24 thg 11 2026"


def test_a_missing_translation_falls_back_to_the_english() -> None:
    assert i18n.gettext("vi", "Sign in") == "Đăng nhập"
    assert i18n.gettext("vi", "a text nobody marked") == "a text nobody marked"
    assert i18n.gettext("en", "Sign in") == "Sign in"
    assert i18n.script_messages("en") == {}
    assert i18n.script_messages("vi")["Show this code to the gate's reader."].startswith("Đưa")


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    add_web_routes(app)  # the signed-in app, as create_app mounts it
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


def _lang(html: str) -> str:
    found = re.search(r'<html lang="(\w+)">', html)
    assert found is not None
    return found.group(1)


def _script_messages(html: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="i18n-messages">(.*?)</script>', html)
    assert found is not None
    parsed: dict[str, str] = json.loads(found.group(1))
    return parsed


async def test_the_page_is_vietnamese_unless_english_is_asked_for(
    client: TestClient[Any, Any],
) -> None:
    page = await client.get("/")
    html = await page.text()
    assert _lang(html) == "vi"
    assert page.headers["Content-Language"] == "vi"
    assert "Đăng nhập" in html
    assert ">Sign in<" not in html
    assert _script_messages(html)["Wallet top-up"] == "Nạp tiền vào ví"
    assert "set-cookie" not in {k.lower() for k in page.headers}  # nothing chosen, nothing kept
    english = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    html = await english.text()
    assert _lang(html) == "en"
    assert ">Sign in<" in html
    assert _script_messages(html) == {}


async def test_the_switch_is_remembered(client: TestClient[Any, Any]) -> None:
    switched = await client.get("/?lang=en", headers={"Accept-Language": "vi"})
    assert _lang(await switched.text()) == "en"
    cookie = switched.cookies[i18n.LANG_COOKIE]
    assert cookie.value == "en"
    assert int(cookie["max-age"]) == i18n.LANG_COOKIE_MAX_AGE
    # The client keeps the cookie: the next plain visit is in English although the browser
    # asks for Vietnamese.
    again = await client.get("/", headers={"Accept-Language": "vi"})
    assert _lang(await again.text()) == "en"
    back = await client.get("/?lang=vi")
    assert _lang(await back.text()) == "vi"
    assert _lang(await (await client.get("/")).text()) == "vi"


async def test_the_page_shows_the_switch_with_each_language_in_its_own_words(
    client: TestClient[Any, Any],
) -> None:
    html = await (await client.get("/")).text()
    assert '<a href="/?lang=en" hreflang="en" lang="en">English</a>' in html
    assert '<span aria-current="true" lang="vi">Tiếng Việt</span>' in html
    assert "100.000\xa0₫" in html  # the top-up amounts
