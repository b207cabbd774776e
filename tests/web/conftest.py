"""Fixtures for the web pages: a real aiohttp server on a loopback port with fixed passes, and
Debian's chromium driven by Playwright.

The browser fixture installs chromium with apt-get when /usr/bin/chromium is missing, and FAILS
(never skips) when the browser cannot be installed or started: a CI run without a browser must
not pass. Playwright's sync API runs in the test thread; the server runs its own event loop in
a background thread, so the two never share a loop.

Passes (all from keys made for the session, in force from a day ago for two years, so the
tests do not age): `live` (valid from an hour ago for a day), `expired`, `future`, `postpaid`.
`?pass=<name>` on the page URL picks one; `?pass=none` shows the page with no pass.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from playwright.sync_api import Browser, Error, Playwright, sync_playwright

from faregate.errors import SettlementRefused
from faregate.web import LotOccupancy, OccupancyBroadcaster, add_web_routes
from faregate.web.finance import (
    ControlStatus,
    DayReport,
    DayStatus,
    Download,
    OperatorRevenue,
    SettlementDay,
    SettlementException,
)
from faregate.web.operator import DeviceStatus, OperatorOverview, UncollectedExit
from qr.credential import CredentialFlags
from qr.issue import PhoneCredential, issue_credential
from qr.keys import EMPTY, KeyMaterial
from qr.verifier import Verifier, VerifierPolicy
from ticketing.money import Money

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
START = datetime.now(UTC).replace(microsecond=0)


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


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module scope: Playwright's sync API keeps an event loop of its own, which must be gone
    # before other modules' asyncio tests run.
    ensure_chromium()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
    except Error as exc:
        pytest.fail(f"chromium did not start: {exc}")
    yield browser
    browser.close()


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


VND = "VND"
AS_OF = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def operator_overview() -> OperatorOverview:
    """An operator's morning: two lots, three devices (one late, one never heard from)."""
    return OperatorOverview(
        operator="Hoàn Kiếm Parking",
        as_of=AS_OF,
        lots=(
            LotOccupancy(
                lot_id="HK-01",
                name="Hàng Đào",
                capacity=120,
                occupied=87,
                free=33,
                updated_at=AS_OF,
            ),
            LotOccupancy(
                lot_id="HK-02",
                name="Lý Thái Tổ",
                capacity=60,
                occupied=59,
                free=1,
                updated_at=AS_OF,
            ),
        ),
        devices=(
            DeviceStatus(
                device_id="HK-01-IN",
                kind="entry barrier",
                location="Hàng Đào",
                last_upload_at=AS_OF - timedelta(minutes=2),
                journal_lag=0,
            ),
            DeviceStatus(
                device_id="HK-01-OUT",
                kind="exit barrier",
                location="Hàng Đào",
                last_upload_at=AS_OF - timedelta(hours=1, minutes=5),
                journal_lag=312,
            ),
            DeviceStatus(
                device_id="HK-02-IN",
                kind="entry barrier",
                location="Lý Thái Tổ",
                last_upload_at=None,
                journal_lag=None,
            ),
        ),
        uncollected=(
            UncollectedExit(
                session_id="S-88121",
                lot_name="Hàng Đào",
                credential_id=4711,
                plate="29A-123.45",
                entered_at=AS_OF - timedelta(hours=3),
                exited_at=AS_OF - timedelta(minutes=40),
                fee=Money(50_000, VND),
                reason="barrier offline, wallet unknown",
            ),
            UncollectedExit(
                session_id="S-88140",
                lot_name="Lý Thái Tổ",
                credential_id=5120,
                plate=None,
                entered_at=AS_OF - timedelta(hours=2),
                exited_at=AS_OF - timedelta(minutes=10),
                fee=Money(25_000, VND),
                reason="card declined",
            ),
        ),
    )


SETTLED_DAY = date(2026, 11, 28)
CLOSED_DAY = date(2026, 11, 29)


class FakeFinance:
    """Settlement days as the settlement service will report them; records started days."""

    def __init__(self) -> None:
        self.started: list[date] = []
        self.days = [
            SettlementDay(
                service_day=date(2026, 11, 30),
                status=DayStatus.OPEN,
                control=ControlStatus.NOT_RUN,
                taps=48_210,
                collected=None,
                exceptions=0,
            ),
            SettlementDay(
                service_day=CLOSED_DAY,
                status=DayStatus.CLOSED,
                control=ControlStatus.NOT_RUN,
                taps=1_204_877,
                collected=None,
                exceptions=0,
            ),
            SettlementDay(
                service_day=SETTLED_DAY,
                status=DayStatus.SETTLED,
                control=ControlStatus.BALANCED,
                taps=1_187_002,
                collected=Money(9_804_561_000, VND),
                exceptions=2,
            ),
            SettlementDay(
                service_day=date(2026, 11, 27),
                status=DayStatus.SETTLED,
                control=ControlStatus.OUT_OF_BALANCE,
                taps=1_190_356,
                collected=Money(9_911_020_000, VND),
                exceptions=5,
            ),
        ]

    async def list_days(self, request: web.Request) -> list[SettlementDay]:
        return self.days

    async def report(self, request: web.Request, day: date) -> DayReport | None:
        found = [d for d in self.days if d.service_day == day]
        if not found:
            return None
        hourly = [0, 0, 0, 0, 0, 12, 48, 96, 88, 51, 40, 42, 47, 44, 41, 46, 63, 94, 99, 62, 38, 27]
        return DayReport(
            day=found[0],
            by_operator=(
                OperatorRevenue(
                    operator="Hanoi Metro 2A",
                    gross=Money(4_100_000_000, VND),
                    net=Money(3_950_000_000, VND),
                ),
                OperatorRevenue(
                    operator="Transerco buses",
                    gross=Money(4_300_000_000, VND),
                    net=Money(4_180_000_000, VND),
                ),
                OperatorRevenue(
                    operator="Hoàn Kiếm Parking",
                    gross=Money(1_404_561_000, VND),
                    net=Money(1_380_000_000, VND),
                ),
            ),
            by_hour=tuple(Money(n * 10_000_000, VND) for n in [*hourly, 9, 3]),
            exceptions=(
                SettlementException(
                    kind="missing at gateway",
                    reference="charge:A-1029:2026-11-28",
                    amount=Money(64_000, VND),
                    since=day,
                    detail="ledger charge with no gateway record",
                ),
                SettlementException(
                    kind="amount mismatch",
                    reference="pi_3Qx9",
                    amount=Money(8_000, VND),
                    since=day - timedelta(days=3),
                    detail="gateway 72,000 VND, ledger 64,000 VND",
                ),
            ),
            downloads=(
                Download(
                    label="Statement, Hanoi Metro 2A (CSV)",
                    href=f"/static/test-statements/{day.isoformat()}-metro.csv",
                ),
                Download(label="Settlement report (HTML)", href=f"/reports/{day.isoformat()}"),
            ),
        )

    async def start_settlement(self, request: web.Request, day: date) -> None:
        found = [d for d in self.days if d.service_day == day]
        if not found or found[0].status is not DayStatus.CLOSED:
            raise SettlementRefused(f"{day.isoformat()} is not a closed day")
        self.started.append(day)


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
