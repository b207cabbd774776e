"""Debian's chromium for the browser tests: where it is, how it starts (installing it when it is
missing, or failing the run: a CI run without a browser must not pass), one chromium for all the
browser tests of a test process, a page in a context of its own, and a phone's screen.

One chromium a process: Playwright's driver and chromium cost about 0.4 s of CPU to start and
stop, and more to warm up, so they start once per pytest-xdist worker (`shared_chromium`, a
session fixture of tests/web) and every test gets fresh contexts in it (`SharedChromium.lent`).
Playwright's sync API marks its own event loop as the thread's running loop after each call;
asyncio tests that run between browser tests in the same process must not find it there, so
a test borrows the browser with that loop set and gives it back with it cleared.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Page, Playwright, ViewportSize, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
DESKTOP_VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


def ensure_chromium() -> None:
    """Install Debian's chromium when it is missing; fail the test run if that cannot be done."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0:
        pytest.fail(f"{CHROMIUM} is missing and only root can apt-get install chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is still missing")


@contextmanager
def _driving(driver: Playwright) -> Iterator[None]:
    """Playwright's loop as the thread's running loop while the block runs, none after."""
    asyncio._set_running_loop(driver._loop)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        asyncio._set_running_loop(None)


@dataclass
class SharedChromium:
    """The process's chromium, lent to one test at a time."""

    playwright: Playwright
    browser: Browser

    @contextmanager
    def driving(self) -> Iterator[None]:
        """For Playwright calls outside `lent` (a module's page kept across its tests)."""
        with _driving(self.playwright):
            yield

    @contextmanager
    def lent(self) -> Iterator[Browser]:
        """The browser for one test; the contexts it leaves open are closed after it."""
        with _driving(self.playwright):
            try:
                yield self.browser
            finally:
                for context in self.browser.contexts:
                    context.close()


@contextmanager
def shared_chromium() -> Iterator[SharedChromium]:
    """Playwright's driver and chromium, started once, until the block ends."""
    ensure_chromium()
    with _driving(driver := sync_playwright().start()):
        try:
            browser = driver.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except Error as exc:
            driver.stop()
            pytest.fail(f"chromium did not start: {exc}")
    try:
        yield SharedChromium(driver, browser)
    finally:
        with _driving(driver):
            browser.close()
            driver.stop()


@contextmanager
def opened_page(
    browser: Browser,
    viewport: ViewportSize = PHONE_VIEWPORT,
    *,
    locale: str | None = None,
    timeout_ms: int = 30_000,
    accept_downloads: bool = False,
) -> Iterator[Page]:
    """A page in a context of its own (`locale` the browser's language, else chromium's); an
    error the page throws fails the test."""
    context = browser.new_context(
        viewport=viewport, locale=locale, accept_downloads=accept_downloads
    )
    errors: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
    finally:
        context.close()
    assert errors == []


def wait_for_text(page: Page, selector: str, text: str) -> None:
    """Until the first element `selector` finds holds `text` (the page's own timeout)."""
    page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent.includes(t)", arg=[selector, text]
    )


def look(page: Page, name: str) -> None:
    """Save the page as `name`.png for the docs when FAREGATE_SCREENSHOTS names a directory,
    and check nothing on it is wider than the screen."""
    folder = os.environ.get("FAREGATE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: {overflow}px wider than the screen"
