"""The passenger page in chromium: the QR read from a screenshot is a token our verifier accepts,
and it keeps rotating offline.

Time is driven with Playwright's clock (it replaces Date and timers in the page), so rotation is
tested without waiting; one test lets a real period pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route

from qr.decision import Reason
from qr.decode import decode_image
from qr.liveness import DEFAULT_PERIOD
from qr.memory import GateMemory
from qr.verifier import GateContext, Verifier

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium

GATE = GateContext("M2A-01-G3", frozenset({"M2A*"}))


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    """Uncaught errors and console errors of the page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def boundary_plus(seconds: int) -> datetime:
    """An instant `seconds` into a TOTP period, a minute before now (the passes are valid)."""
    now = int(datetime.now(UTC).timestamp()) - 60
    return datetime.fromtimestamp(now - now % DEFAULT_PERIOD + seconds, UTC)


def shown_token(page: Page) -> str:
    """What a gate's camera reads off the screen."""
    return decode_image(page.locator("#qr").screenshot())


def shown_step(page: Page) -> int:
    return int(page.locator("#qr").get_attribute("data-step") or "-1")


def wait_for_step(page: Page, step: int) -> None:
    page.wait_for_function("(step) => document.querySelector('#qr').dataset.step == step", arg=step)


def wait_for_countdown(page: Page, seconds: str) -> None:
    page.wait_for_function(
        "(s) => document.querySelector('#countdown-seconds').textContent === s", arg=seconds
    )


def accepted_at(verifier: Verifier, token: str, at: datetime) -> Any:
    """Decide at a gate that has not seen this passenger (each check is a different gate)."""
    return verifier.verify(token, at=at, gate=GATE, memory=GateMemory())


def start_at(page: Page, base_url: str, at: datetime, query: str = "") -> None:
    """Open the page with its clock paused at `at`. The page's clock starts well before `at`:
    pausing can only go forward, and loading the page takes seconds on a busy machine."""
    page.clock.install(time=at - timedelta(seconds=30))
    page.goto(f"{base_url}/{query}")
    page.clock.pause_at(at)


def test_the_qr_on_screen_is_a_token_the_gate_accepts(
    page: Page, page_errors: list[str], base_url: str, passes: Any, verifier: Verifier
) -> None:
    at = boundary_plus(3)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    start_at(page, base_url, at)
    wait_for_step(page, int(at.timestamp()) // DEFAULT_PERIOD)

    token = shown_token(page)
    assert token == passes.live.token_at(at)
    decision = accepted_at(verifier, token, at)
    assert decision.reason is Reason.ACCEPTED, decision.detail
    assert decision.credential_id == 4711
    assert page.locator("#countdown-seconds").inner_text() == "12"
    assert page.locator("#pass-status").inner_text() == "Show this code to the gate's reader."
    assert requests
    assert all(url.startswith(f"{base_url}/") for url in requests), requests
    assert page_errors == []


def test_offline_the_code_rotates_and_the_old_one_goes_stale(
    page: Page,
    page_errors: list[str],
    context: BrowserContext,
    base_url: str,
    passes: Any,
    verifier: Verifier,
) -> None:
    at = boundary_plus(5)
    step = int(at.timestamp()) // DEFAULT_PERIOD
    start_at(page, base_url, at)
    wait_for_step(page, step)
    first = shown_token(page)
    assert accepted_at(verifier, first, at).reason is Reason.ACCEPTED

    context.set_offline(True)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    assert page.evaluate("() => navigator.onLine") is False
    page.wait_for_function(
        "() => document.querySelector('#network-status').textContent.startsWith('Offline')"
    )

    page.clock.run_for(DEFAULT_PERIOD * 1000)
    wait_for_step(page, step + 1)
    later = at + timedelta(seconds=DEFAULT_PERIOD)
    second = shown_token(page)
    assert second != first
    assert second == passes.live.token_at(later)
    assert accepted_at(verifier, second, later).reason is Reason.ACCEPTED

    # The gate's window tolerates one step of clock drift, so the old code goes stale one
    # more period on.
    page.clock.run_for(DEFAULT_PERIOD * 1000)
    wait_for_step(page, step + 2)
    latest = at + timedelta(seconds=2 * DEFAULT_PERIOD)
    third = shown_token(page)
    assert accepted_at(verifier, third, latest).reason is Reason.ACCEPTED
    assert accepted_at(verifier, first, latest).reason is Reason.STALE_CODE
    assert len({first, second, third}) == 3
    assert requests == []  # nothing was even tried while offline
    assert page_errors == []


def test_the_countdown_follows_the_period(page: Page, base_url: str) -> None:
    at = boundary_plus(1)
    start_at(page, base_url, at)
    wait_for_step(page, int(at.timestamp()) // DEFAULT_PERIOD)
    seconds = page.locator("#countdown-seconds")
    bar = page.locator("#countdown-bar")
    assert seconds.inner_text() == "14"
    page.clock.run_for(6000)
    wait_for_countdown(page, "8")
    assert bar.get_attribute("max") == "15"
    assert page.evaluate("() => document.querySelector('#countdown-bar').value") == 8
    page.clock.run_for(7000)  # one second before the boundary
    wait_for_countdown(page, "1")
    page.clock.run_for(1000)
    wait_for_countdown(page, "15")


def test_the_code_rotates_in_real_time(
    page: Page, context: BrowserContext, base_url: str, passes: Any, verifier: Verifier
) -> None:
    """No fake clock: a real period passes, offline."""
    page.goto(base_url)
    page.wait_for_function("() => document.querySelector('#qr').dataset.step !== undefined")
    first = shown_token(page)
    # Read after the screenshot: if the code turned over in between, this is already the new
    # step, and the wait below is for the one after it, so `first` is never waited on twice.
    step = shown_step(page)
    context.set_offline(True)
    page.wait_for_function(
        "(step) => Number(document.querySelector('#qr').dataset.step) > step",
        arg=step,
        timeout=2 * DEFAULT_PERIOD * 1000,
    )
    second = shown_token(page)
    now = datetime.now(UTC)
    assert second != first
    assert second == passes.live.token_at(now) or second == passes.live.token_at(
        now - timedelta(seconds=DEFAULT_PERIOD)
    )  # the code of this period, or of the one that ended while the screenshot was read
    assert accepted_at(verifier, second, now).reason is Reason.ACCEPTED


@pytest.mark.parametrize(
    ("name", "state", "status"),
    [
        ("expired", "expired", "This pass has expired: gates will refuse it."),
        ("future", "not-yet-valid", "This pass is not valid yet: see when it starts below."),
    ],
)
def test_a_pass_outside_its_validity_shows_no_code(
    page: Page, base_url: str, name: str, state: str, status: str
) -> None:
    page.goto(f"{base_url}/?pass={name}")
    page.wait_for_function(
        "(s) => document.querySelector('#live-pass').dataset.state === s", arg=state
    )
    assert page.locator("#pass-status").inner_text() == status
    assert page.locator("#qr").is_hidden()
    assert page.locator("#countdown").is_hidden()


def test_a_pass_shows_when_it_starts_and_ends_in_hanoi_time(
    page: Page, base_url: str, passes: Any
) -> None:
    page.goto(f"{base_url}/?pass=postpaid")
    until = passes.postpaid.credential.valid_until
    shown = page.locator("dt:text-is('Valid until') + dd time")
    hanoi = until.astimezone(UTC) + timedelta(hours=7)
    assert shown.inner_text() == hanoi.strftime("%-d %b %Y, %H:%M")
    assert shown.get_attribute("datetime") == until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert page.locator("dt:text-is('Payment') + dd").inner_text() == "Card, charged once a day"


def test_a_damaged_pass_shows_one_error_line(page: Page, base_url: str) -> None:
    def damage(route: Route) -> None:
        response = route.fetch()
        body = response.text().replace('"seed": "', '"seed": "1')
        route.fulfill(response=response, body=body)

    page.route(f"{base_url}/", damage)
    page.goto(f"{base_url}/")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "Error: this pass cannot be shown (the pass's seed is not base32)."
    assert page.locator("#qr").is_hidden()


def test_without_a_pass_the_page_says_so(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/?pass=none")
    assert page.get_by_role("heading", level=2).inner_text() == "No pass on this device"
    assert page.locator("#qr").count() == 0


@pytest.mark.parametrize(
    ("phone_clock_off", "warning"),
    [
        (timedelta(0), None),
        (
            timedelta(minutes=-5),
            "This phone's clock is 5 min behind the network's time, so gates may refuse the "
            "code. Set the clock to automatic.",
        ),
        (
            timedelta(minutes=7),
            "This phone's clock is 7 min ahead of the network's time, so gates may refuse the "
            "code. Set the clock to automatic.",
        ),
    ],
)
def test_a_phone_clock_off_by_more_than_a_period_is_pointed_out(
    page: Page, base_url: str, phone_clock_off: timedelta, warning: str | None
) -> None:
    page.clock.install(time=datetime.now(UTC) + phone_clock_off)
    page.goto(base_url)
    page.wait_for_function("() => document.querySelector('#qr').dataset.step !== undefined")
    shown = page.locator("#clock-warning")
    if warning is None:
        assert shown.is_hidden()
    else:
        assert shown.inner_text() == warning
        assert shown.get_attribute("role") == "alert"
    assert page.locator("#qr").is_visible()  # the code is still shown: the clock may be right
