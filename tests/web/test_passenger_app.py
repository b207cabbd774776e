"""The passenger page as the app a rider in Hanoi uses, in chromium on the whole app (SQLite,
Redis, localstripe): installable (manifest, service worker), the pass kept in IndexedDB with a
non-extractable key, so that closing and reopening it underground still shows a code the gate
accepts; a sign-in elsewhere that leaves the pass alone; moving it explicitly; the old phone
told; a lost phone that loses its pass and every session; a phone clock 3 minutes off; a pass
number beyond 2**53.

Each code is read off a screenshot with zxing-cpp and put to our offline verifier with the keys
of the test server and its deny list (what the device API hands the gates).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from qr.decode import decode_image
from tests.helpers.browser import wait_for_text
from tests.helpers.http import loopback_sync
from tests.helpers.live_app import PASSWORD, LiveApp, Rider, register, shown_token, sign_in
from tests.helpers.waiting import until_sync
from ticketing.services import passengers

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
BIG_ID = 5079299579023820864  # beyond 2**53: a JavaScript Number makes it ...820000
# What the page keeps in IndexedDB, read back by a script of the page's own origin.
READ_STORE = """async (key) => {
    const db = await new Promise((ok, fail) => {
        const open = indexedDB.open("faregate");
        open.onsuccess = () => ok(open.result);
        open.onerror = () => fail(open.error);
    });
    const value = await new Promise((ok, fail) => {
        const got = db.transaction("kv").objectStore("kv").get(key);
        got.onsuccess = () => ok(got.result);
        got.onerror = () => fail(got.error);
    });
    db.close();
    return value;
}"""


def new_page(context: BrowserContext, errors: list[str]) -> Page:
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts a test opens (each a phone or a laptop of its own), closed after."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


@pytest.fixture
def errors() -> Iterator[list[str]]:
    """Uncaught errors of every page of the test: none allowed."""
    found: list[str] = []
    yield found
    assert found == []


def device(
    browser: Browser, contexts: list[BrowserContext], viewport: dict[str, int]
) -> BrowserContext:
    context = browser.new_context(viewport=viewport, locale="en-US")  # type: ignore[arg-type]
    contexts.append(context)
    return context


def wait_for_worker(page: Page) -> None:
    """Until the service worker is active: its install (the app shell cached) is done."""
    state = page.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
    assert state in {"activating", "activated"}


@contextmanager
def server_requests(live: LiveApp) -> Iterator[list[str]]:
    """The requests the test server answers while the block runs (from its access log)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("aiohttp.access")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def screenshot(page: Page, name: str) -> None:
    """Saved for docs/WEB.md when FAREGATE_SCREENSHOTS names a directory."""
    import os

    folder = os.environ.get("FAREGATE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_closed_and_reopened_offline_the_app_shows_a_code_the_gate_accepts(
    browser: Browser, contexts: list[BrowserContext], errors: list[str], live_app: LiveApp
) -> None:
    rider = register(live_app, card=False)
    phone = device(browser, contexts, PHONE)
    page = new_page(phone, errors)
    sign_in(page, live_app, rider)
    first = shown_token(page)
    assert live_app.accepted(first)
    wait_for_worker(page)

    # Installable: a manifest Chrome takes, and a worker that controls the page.
    manifest = page.evaluate("() => document.querySelector('link[rel=manifest]').href")
    with loopback_sync() as http:
        answer = http.get(manifest)
        worker = http.get(f"{live_app.url}/sw.js")
    assert answer.headers["Content-Type"].startswith("application/manifest+json")
    assert answer.json()["start_url"] == "/"
    assert answer.json()["display"] == "standalone"
    assert worker.headers["Content-Type"].startswith("text/javascript")
    cdp = phone.new_cdp_session(page)
    found = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito ones, where nothing installs; nothing else stands.
    assert [e["errorId"] for e in found if e["errorId"] != "in-incognito"] == []

    # Kept in IndexedDB, not sessionStorage; the seed only as a key no script can export.
    kept = page.evaluate(
        f"""async () => {{
            const pass = await ({READ_STORE})("pass");
            return {{
                seed: "seed" in pass, id: pass.credential_id, type: pass.key.type,
                extractable: pass.key.extractable, algorithm: pass.key.algorithm.name,
                exported: await crypto.subtle.exportKey("raw", pass.key)
                    .then(() => "yes", (e) => e.name),
                session: sessionStorage.length,
            }};
        }}"""
    )
    assert kept == {
        "seed": False, "id": kept["id"], "type": "secret", "extractable": False,
        "algorithm": "HMAC", "exported": "InvalidAccessError", "session": 0,
    }  # fmt: skip

    with server_requests(live_app) as seen:
        httpx.get(f"{live_app.url}/sw.js")  # the log sees what the server answers...
        until_sync(lambda: seen, "the access log's line")
        seen.clear()
        phone.set_offline(True)
        page.close()
        again = new_page(phone, errors)
        again.goto(f"{live_app.url}/")
        code = shown_token(again)
        assert code[:120] == first[:120]  # the same pass, not a new one
        assert live_app.accepted(code)
        wait_for_text(again, "#network-status", "Offline")
        screenshot(again, "passenger-app-offline")
        again.reload()
        assert live_app.accepted(shown_token(again))
    assert seen == []  # ... and nothing reached it: the app opened from the phone alone


def test_a_sign_in_elsewhere_leaves_the_pass_and_moving_it_is_a_step_of_its_own(
    browser: Browser, contexts: list[BrowserContext], errors: list[str], live_app: LiveApp
) -> None:
    rider = register(live_app, card=False)
    old = new_page(device(browser, contexts, PHONE), errors)
    sign_in(old, live_app, rider)
    assert live_app.accepted(shown_token(old))

    laptop_context = device(browser, contexts, DESKTOP)
    laptop = new_page(laptop_context, errors)
    sign_in(laptop, live_app, rider)
    laptop.locator("#pass-elsewhere").wait_for()
    wait_for_text(laptop, "#username-shown", rider.username)  # the account is there to read
    assert laptop.locator("#live-pass").is_hidden()
    assert live_app.accepted(shown_token(old))  # the phone's pass is untouched

    new_context = device(browser, contexts, PHONE)
    new = new_page(new_context, errors)
    sign_in(new, live_app, rider)
    new.locator("#pass-elsewhere").wait_for()
    assert "times a day" in new.locator("#pass-elsewhere").inner_text()
    screenshot(new, "passenger-app-pass-elsewhere")
    new.get_by_role("button", name="Use my pass on this phone").click()
    wait_for_text(new, "#account-message", "Your pass is on this phone now")
    wait_for_text(new, "#account-message", "2 more times today")
    assert live_app.accepted(shown_token(new))
    assert not live_app.accepted(shown_token(old))  # refused at the gates at once

    # The old phone, back online, asks about its pass and says it moved.
    old_context = old.context
    old_context.set_offline(True)
    old_context.set_offline(False)
    wait_for_text(old, "#pass-elsewhere-detail", "Your pass was moved to another phone")
    assert old.locator("#live-pass").is_hidden()
    screenshot(old, "passenger-app-moved")
    # ... and keeps saying so after a reload (the notice is kept, the dead pass is not).
    old.reload()
    wait_for_text(old, "#pass-elsewhere-detail", "moved to another phone")
    assert old.evaluate(f"async () => ({READ_STORE})('pass')") is None


def test_report_lost_phone_ends_every_session_and_the_lost_token_is_refused(
    browser: Browser, contexts: list[BrowserContext], errors: list[str], live_app: LiveApp
) -> None:
    rider = register(live_app, card=False)
    lost = new_page(device(browser, contexts, PHONE), errors)
    sign_in(lost, live_app, rider)
    lost_code = shown_token(lost)
    lost_token = lost.evaluate(f"async () => ({READ_STORE})('token')")
    assert isinstance(lost_token, str)

    laptop = new_page(device(browser, contexts, DESKTOP), errors)
    sign_in(laptop, live_app, rider)
    laptop.locator("#pass-elsewhere").wait_for()
    laptop.get_by_label("I lost the phone that held my pass").check()
    laptop.get_by_role("button", name="Report lost phone").click()
    wait_for_text(laptop, "#account-message", "every session of your account has ended")
    laptop.locator("#sign-in-form").wait_for()
    assert not live_app.accepted(lost_code)
    with loopback_sync(live_app.url) as http:
        refused = http.get(
            "/api/v1/passenger/account", headers={"Authorization": f"Bearer {lost_token}"}
        )
    assert refused.status_code == 401

    # The lost phone's page, on its next request, is signed out.
    lost.context.set_offline(True)
    lost.context.set_offline(False)
    wait_for_text(lost, "#sign-in-error", "Your session has ended")

    # The rider signs in on the new phone: it takes a new pass, no move needed.
    new = new_page(device(browser, contexts, PHONE), errors)
    sign_in(new, live_app, rider)
    code = shown_token(new)
    assert code[:120] != lost_code[:120]
    assert live_app.accepted(code)


def test_a_lost_phone_is_reported_from_the_sign_in_form_with_the_password(
    browser: Browser, contexts: list[BrowserContext], errors: list[str], live_app: LiveApp
) -> None:
    rider = register(live_app, card=False)
    lost = new_page(device(browser, contexts, PHONE), errors)
    sign_in(lost, live_app, rider)
    lost_code = shown_token(lost)
    lost_token = lost.evaluate(f"async () => ({READ_STORE})('token')")

    new = new_page(device(browser, contexts, PHONE), errors)
    new.goto(f"{live_app.url}/")
    new.locator("#username").fill(rider.username)
    new.locator("#password").fill(PASSWORD)
    new.get_by_text("Lost your phone?").first.click()
    new.get_by_role("button", name="Report lost phone").click()
    wait_for_text(new, "#account-message", "every session of your account has ended")
    assert not live_app.accepted(lost_code)
    with loopback_sync(live_app.url) as http:
        refused = http.get(
            "/api/v1/passenger/account", headers={"Authorization": f"Bearer {lost_token}"}
        )
    assert refused.status_code == 401
    sign_in(new, live_app, rider)
    assert live_app.accepted(shown_token(new))


def test_a_phone_clock_3_minutes_off_shows_a_code_the_gate_accepts(
    browser: Browser, contexts: list[BrowserContext], errors: list[str], live_app: LiveApp
) -> None:
    rider = register(live_app, card=False)
    phone = device(browser, contexts, PHONE)
    page = new_page(phone, errors)
    off = timedelta(minutes=3)
    page.clock.install(time=datetime.now(UTC) + off)
    sign_in(page, live_app, rider)
    assert live_app.accepted(shown_token(page))  # at the real time: the server's
    assert page.locator("#clock-warning").is_hidden()  # the offset is known: nothing to say
    offset = page.evaluate(f"async () => (await ({READ_STORE})('clock')).offsetMs")
    assert abs(offset + off.total_seconds() * 1000) < 30_000

    # Reopened offline, the kept offset still corrects the clock.
    phone.set_offline(True)
    page.close()
    again = new_page(phone, errors)
    again.clock.install(time=datetime.now(UTC) + off)
    again.goto(f"{live_app.url}/")
    assert live_app.accepted(shown_token(again))
    assert again.locator("#clock-warning").is_hidden()

    # Only a phone that never measured it is told (and its code follows its own clock).
    again.evaluate(
        """async () => {
            const db = await new Promise((ok) => {
                const open = indexedDB.open("faregate"); open.onsuccess = () => ok(open.result);
            });
            await new Promise((ok) => {
                const tx = db.transaction("kv", "readwrite");
                tx.objectStore("kv").delete("clock");
                tx.oncomplete = ok;
            });
            db.close();
        }"""
    )
    again.reload()
    warning = again.locator("#clock-warning")
    warning.wait_for()
    assert "has not yet checked its clock" in warning.inner_text()


def test_a_pass_number_beyond_2_53_is_shown_digit_for_digit(
    browser: Browser,
    contexts: list[BrowserContext],
    errors: list[str],
    live_app: LiveApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def big_ids(uow: Any, count: int) -> list[int]:
        return [BIG_ID + n for n in range(count)]

    monkeypatch.setattr(passengers, "_unused_credential_ids", big_ids)
    rider: Rider = register(live_app, card=False)
    page = new_page(device(browser, contexts, PHONE), errors)
    sign_in(page, live_app, rider)
    token = shown_token(page)
    assert live_app.accepted(token)
    shown = page.locator("#live-pass dd[data-fact=credential_id]").inner_text()
    assert shown == "507 9299 5790 2382 0864"
    kept = page.evaluate(f"async () => ({READ_STORE})('pass')")
    assert kept["credential_id"] == str(BIG_ID)
    assert decode_image(page.locator("#qr").screenshot()) is not None
