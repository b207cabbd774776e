"""Fixtures for the web pages: a real aiohttp server on a loopback port with fixed passes, and
Debian's chromium driven by Playwright.

The browser fixture installs chromium with apt-get when /usr/bin/chromium is missing, and FAILS
(never skips) when the browser cannot be installed or started: a CI run without a browser must
not pass. One chromium serves every test of a process; each test opens its own contexts
(tests.helpers.browser). Playwright's sync API runs in the test thread; the server runs its
own event loop in a background thread, so the two never share a loop.

Passes (all from keys made for the session, in force from a day ago for two years, so the
tests do not age): `live` (valid from an hour ago for a day), `expired`, `future`, `postpaid`.
`?pass=<name>` on the page URL picks one; `?pass=none` shows the page with no pass.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from playwright.sync_api import Browser

from faregate.web import LotOccupancy, OccupancyBroadcaster, add_web_routes
from faregate.web.operator import OperatorOverview
from gateways.localstripe_server import LocalStripe
from gateways.vnpay_standin import VNPayStandIn
from qr.credential import CredentialFlags
from qr.issue import PhoneCredential, issue_credential
from qr.keys import EMPTY, KeyMaterial
from qr.verifier import Verifier, VerifierPolicy
from tests.helpers.api import make_config
from tests.helpers.browser import SharedChromium, shared_chromium
from tests.helpers.databases import sqlite_url
from tests.helpers.live_app import LiveApp, serving
from tests.helpers.staff_pages import FakeFinance, operator_overview
from tests.helpers.vnpay import serving_with_standin, standin

START = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="session")
def chromium() -> Iterator[SharedChromium]:
    """One chromium for the whole test process (tests.helpers.browser)."""
    with shared_chromium() as shared:
        yield shared


@pytest.fixture
def browser(chromium: SharedChromium) -> Iterator[Browser]:
    """The process's chromium for one test, which opens contexts of its own in it."""
    with chromium.lent() as browser:
        yield browser


@pytest.fixture(scope="session")
def material() -> KeyMaterial:
    return EMPTY.rotated(START - timedelta(days=1), lifetime=timedelta(days=730))


@pytest.fixture(scope="session")
def verifier(material: KeyMaterial) -> Verifier:
    return Verifier(material.keyset, material.secure_module(), VerifierPolicy())


@dataclass(frozen=True, slots=True)
class Passes:
    live: PhoneCredential
    expired: PhoneCredential
    future: PhoneCredential
    postpaid: PhoneCredential

    def named(self, name: str) -> PhoneCredential | None:
        return None if name == "none" else getattr(self, name, None)


@pytest.fixture(scope="session")
def passes(material: KeyMaterial) -> Passes:
    def issue(
        credential_id: int,
        start: timedelta,
        end: timedelta,
        flags: CredentialFlags = CredentialFlags.NONE,
    ) -> PhoneCredential:
        return issue_credential(
            material,
            credential_id=credential_id,
            product="M2A-DAY",
            now=START,
            valid_from=START + start,
            valid_until=START + end,
            flags=flags,
        )

    hour, day = timedelta(hours=1), timedelta(days=1)
    return Passes(
        live=issue(4711, -hour, day),
        expired=issue(4712, -day, -hour),
        future=issue(4713, day, 2 * day),
        postpaid=issue(4714, -hour, day, flags=CredentialFlags.POSTPAID),
    )


@dataclass
class Server:
    """The running test server, and what tests may change behind it."""

    url: str
    loop: asyncio.AbstractEventLoop
    occupancy: OccupancyBroadcaster
    finance: FakeFinance

    def publish(self, occupancy: LotOccupancy) -> None:
        """Publish on the server's own loop, as the device API would."""
        self.loop.call_soon_threadsafe(self.occupancy.publish, occupancy)


def web_app(
    passes: Passes, occupancy: OccupancyBroadcaster, finance: FakeFinance
) -> web.Application:
    async def source(request: web.Request) -> PhoneCredential | None:
        return passes.named(request.query.get("pass", "live"))

    async def operator(request: web.Request) -> OperatorOverview:
        return operator_overview()

    app = web.Application()
    add_web_routes(app, source, operator=operator, occupancy=occupancy, finance=finance)
    return app


@pytest.fixture(scope="module")
def server(passes: Passes) -> Iterator[Server]:
    """The pages served by a real aiohttp server on 127.0.0.1 (a secure context for Web Crypto)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="web-test-server", daemon=True)
    thread.start()
    occupancy, finance = OccupancyBroadcaster(), FakeFinance()
    runner = web.AppRunner(web_app(passes, occupancy, finance))

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(runner.addresses[0][1])

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield Server(f"http://127.0.0.1:{port}", loop, occupancy, finance)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


@pytest.fixture(scope="module")
def base_url(server: Server) -> str:
    return server.url


@pytest.fixture
def fake_finance() -> FakeFinance:
    """A fresh FakeFinance for one test (the server's own lives as long as the server)."""
    return FakeFinance()


@pytest.fixture(scope="module")
def stand_in() -> VNPayStandIn:
    """The VNPay stand-in of a module's `vnpay_app` (its IPN copies and answers to look at)."""
    return standin()


@pytest.fixture(scope="module")
def vnpay_app(
    tmp_path_factory: pytest.TempPathFactory,
    localstripe_server: LocalStripe,
    stand_in: VNPayStandIn,
) -> Iterator[LiveApp]:
    """The whole app on real data with the VNPay stand-in as its terminal."""
    with serving_with_standin(
        tmp_path_factory.mktemp("vnpay-app"), localstripe_server, stand_in
    ) as live:
        yield live


@pytest.fixture(scope="module")
def live_app(
    tmp_path_factory: pytest.TempPathFactory, localstripe_server: LocalStripe
) -> Iterator[LiveApp]:
    """The whole app on real data (SQLite in a directory of its own) on a loopback port."""
    root = tmp_path_factory.mktemp("live-app")
    config = make_config(root, sqlite_url(root / "faregate.db"), localstripe_server)
    with serving(config) as live:
        yield live
