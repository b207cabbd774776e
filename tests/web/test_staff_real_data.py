"""The staff pages on real data, in chromium: the whole app (`create_app`: SQLite, Redis, the
session's localstripe) on a loopback port, as in test_passenger_account.py.

- /finance: a finance user signs in on the page and prepares a closed day with real taps (the
  app's own settlement runner behind the finance API's interface); the page follows the run
  to "Prepared"; a second finance user approves it, the page follows it to "Settled" with its
  control status, and downloads its statements; the prepare and approve forms refuse a post
  without the session's form token; a passenger's session cannot open the page.
- /operator: a barrier's entry uploaded through the device API moves the lot's row on an open
  page without a reload; tap uploads show in the devices table.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from faregate.api.context import ENGINE, PRICING_FEED
from gateways.localstripe_server import LocalStripe, running_localstripe
from parking.sessions import Lot
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.issue import issue_credential
from qr.vectors import fixed_key_material
from simulators.barrier import OfflineBarrier, http_uploader
from simulators.device_client import DeviceClient, generate_device_key
from tests.helpers.api import TEST_COST
from tests.helpers.devices import barrier as barrier_at
from tests.helpers.devices import in_service_since
from tests.helpers.devices import register as register_device
from tests.helpers.http import loopback_sync
from tests.helpers.live_app import LiveApp, register, shown_token, sign_in
from tests.helpers.parking import lot_config, open_lot
from tests.wallets import open_funded_wallets
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.services.taps import ingest_and_price
from ticketing.services.users import create_user
from ticketing.taps import Tap, TapKind
from ticketing.users import UserRole

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def localstripe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """This module's own localstripe: settling a day lists every payment the gateway holds, and
    the session's shared one has grown large by the time a full run gets here."""
    with running_localstripe(tmp_path_factory.mktemp("localstripe-staff-pages")) as server:
        yield server


HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)  # long closed: its cut-off has passed
PASSWORD = "a long enough password"
RUN_WAIT = 120_000  # ms: a bound on the runner's work on a busy machine, not a guess at it
# FAREGATE_SCREENSHOTS=DIR: the tests also save the pages' screenshots there (docs/screenshots).
SCREENSHOTS = os.environ.get("FAREGATE_SCREENSHOTS")


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=full_page)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def staff_user(live: LiveApp, role: UserRole) -> str:
    username = f"{role.value}-{secrets.token_hex(4)}"
    live.run(create_user(live.uows, username, PASSWORD, role, cost=TEST_COST))
    return username


def staff_sign_in(page: Page, live: LiveApp, path: str, username: str) -> None:
    response = page.goto(f"{live.url}{path}")
    assert response is not None
    assert response.status == 401
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}{path}")


def ride(account: str, gate: str, hour: int, line: tuple[str, str]) -> list[Tap]:
    def tap(seq: int, minute: int, stop: str, kind: TapKind) -> Tap:
        when = datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=HANOI)
        return Tap(gate, seq, 42, account, when, "m2a", stop, kind)

    return [tap(1, 0, line[0], TapKind.ENTRY), tap(2, 25, line[1], TapKind.EXIT)]


async def city(live: LiveApp) -> list[str]:
    """Prepaid riders with money in their wallets, one ride each on DAY; their accounts."""
    uows, feed = live.uows, live.app[PRICING_FEED]
    names = [f"fin-{secrets.token_hex(3)}" for _ in range(3)]
    async with uows() as uow:
        await open_funded_wallets(uow, names)
        await uow.commit()
    taps = [
        *ride(names[0], "M2A-01-G3", 7, ("m2a_01", "m2a_12")),
        *ride(names[1], "M2A-12-G1", 8, ("m2a_12", "m2a_05")),
        *ride(names[2], "M2A-05-G2", 17, ("m2a_05", "m2a_01")),
    ]
    await ingest_and_price(uows, feed, taps)
    return names


def test_finance_prepares_a_closed_day_another_approves_it_and_downloads_statements(
    page: Page, browser: Browser, live_app: LiveApp
) -> None:
    live_app.run(city(live_app))
    preparer = staff_user(live_app, UserRole.FINANCE)
    staff_sign_in(page, live_app, "/finance", preparer)
    row = page.locator(f'#days tr[data-day="{DAY}"]')
    expect(row).to_contain_text("Closed")
    expect(row.locator('[data-field="control"]')).to_have_text("Not run")

    row.get_by_role("link", name="Prepare settlement").click()
    page.get_by_role("button", name=f"Yes, prepare {DAY}").click()
    page.wait_for_url(f"**/finance?day={DAY}&started={DAY}")
    run = page.locator("#run")
    # the page follows the run (the server's runner prepares it) and reloads when it is done
    expect(run.locator('[data-field="state"]')).to_have_text("Prepared", timeout=RUN_WAIT)
    expect(run.locator('[data-field="prepared-by"]')).to_contain_text(preparer)
    expect(run).to_contain_text("You prepared this day")
    expect(run.get_by_role("link", name="Approve settlement")).to_have_count(0)

    second = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    try:
        page = second.new_page()
        page.set_default_timeout(30_000)
        approver = staff_user(live_app, UserRole.FINANCE)
        staff_sign_in(page, live_app, "/finance", approver)
        page.goto(f"{live_app.url}/finance?day={DAY}")
        page.get_by_role("link", name=f"Approve settlement of {DAY}").click()
        page.get_by_role("button", name="Yes, approve and charge").click()
        page.wait_for_url(f"**/finance?day={DAY}&approved={DAY}")
        run = page.locator("#run")
        expect(run.locator('[data-field="state"]')).to_have_text("Settled", timeout=RUN_WAIT)
        expect(run.locator('[data-field="approved-by"]')).to_contain_text(approver)
        row = page.locator(f'#days tr[data-day="{DAY}"]')
        # The days' table changes when the page reloads after the run: on a busy machine that
        # came after expect's 5 s.
        expect(row).to_contain_text("Settled", timeout=RUN_WAIT)
        expect(row.locator('[data-field="control"]')).to_have_text("Balanced")
        expect(page.locator('#report [data-field="control"]')).to_have_text("Balanced")
        expect(page.locator("#report")).to_contain_text("Net revenue by operator")
        screenshot(page, "finance-desktop.png", full_page=True)
        _downloads(page)
        page.locator("#drilldown").get_by_role("link", name="Hanoi Metro").click()
        expect(page.locator("h1")).to_contain_text("Hanoi Metro")
        expect(page.locator("#pools tbody tr").first).to_contain_text("single")
        expect(page.locator("#legs tbody tr")).to_have_count(3)
    finally:
        second.close()


def _downloads(page: Page) -> None:
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Operator statements (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == f"{DAY}-statements.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert rows
    assert all(r["day"] == str(DAY) for r in rows)
    assert sum(int(r["net"]) for r in rows) > 0
    with page.expect_download() as report_info:
        page.get_by_role("link", name="Settlement report (HTML)").click()
    assert "<svg" in Path(report_info.value.path()).read_text()

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "finance-phone.png")


def test_the_settle_form_needs_the_session_form_token(page: Page, live_app: LiveApp) -> None:
    staff_sign_in(page, live_app, "/finance", staff_user(live_app, UserRole.FINANCE))
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with loopback_sync(live_app.url, cookies=cookies) as http:
        forged = http.post(f"/finance/days/{DAY}/approve", data={"form_token": "forged"})
        assert forged.status_code == 403
        forged = http.post(f"/finance/days/{DAY}/settle", data={"form_token": "forged"})
        assert forged.status_code == 403
        assert "Lỗi: biểu mẫu đã hết hạn" in forged.text  # Vietnamese: no language asked
        missing = http.post(f"/finance/days/{DAY}/settle")
        assert missing.status_code == 403


def test_a_passenger_session_cannot_open_finance(page: Page, live_app: LiveApp) -> None:
    rider = register(live_app, card=False)
    sign_in(page, live_app, rider)
    shown_token(page)
    # The rider's own bearer token (the passenger app keeps its token in IndexedDB).
    with loopback_sync(live_app.url) as http:
        session = http.post(
            "/api/v1/sessions", json={"username": rider.username, "password": PASSWORD}
        )
        assert session.status_code == 200, session.text
        token = session.json()["token"]
    response = page.goto(f"{live_app.url}/finance")
    assert response is not None
    assert response.status == 401
    assert "Service days" not in page.content()
    with loopback_sync(live_app.url) as http:
        for path in ("/finance", f"/finance/days/{DAY}/files/statements.csv"):
            refused = http.get(path, headers={"Authorization": f"Bearer {token}"})
            assert refused.status_code == 403
            assert "Service days" not in refused.text
            assert "operator," not in refused.text


async def open_a_lot(live: LiveApp) -> tuple[str, str]:
    lot_id = f"lot-{secrets.token_hex(3)}"
    await open_lot(
        ParkingUnitOfWorkFactory(live.app[ENGINE]),
        lot_config(
            lot_id, name="Vincom Bà Triệu car park", operator="vincom-parking", capacity=120
        ),
    )
    return lot_id, f"barrier-{secrets.token_hex(3)}"


def test_an_entry_uploaded_through_the_device_api_shows_without_a_reload(
    page: Page, live_app: LiveApp, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    lot_id, device_id = live_app.run(open_a_lot(live_app))
    code = live_app.run(register_device(live_app.uows, device_id, barrier_at(lot_id)))
    first = 900_000 + secrets.randbelow(99_000)
    credentials = (first, first + 1)  # car A comes and goes unpaid, car B stays
    live_app.run(
        register_riders(
            live_app.uows,
            [
                Registration(
                    RiderAccount(f"car-{n}", "adult", PaymentMode.POSTPAID_CARD, "VND"),
                    [
                        CredentialRecord(
                            n,
                            f"car-{n}",
                            now - timedelta(days=1),
                            now + timedelta(days=30),
                            now - timedelta(days=1),
                        )
                    ],
                )
                for n in credentials
            ],
            at=now - timedelta(days=1),
        )
    )
    staff_sign_in(page, live_app, "/operator", staff_user(live_app, UserRole.OPERATOR))
    row = page.locator(f'#lots tr[data-lot-id="{lot_id}"]')
    expect(row.locator('[data-field="occupied"]')).to_have_text("0")
    expect(page.locator("#live-status")).not_to_have_text("Live updates: connecting…")
    page.evaluate("() => { window.notReloaded = true; }")

    async def enrolled() -> bytes:
        """The barrier enrolled, in service since before its first car (the backend refuses
        a record from before its barrier's enrolment)."""
        device = await DeviceClient.enrol(live_app.url, device_id, code, generate_device_key())
        await device.aclose()
        await in_service_since(live_app.uows.engine, device_id, now - timedelta(hours=3))
        return device.secret

    secret = live_app.run(enrolled())

    def drive_barrier() -> int:
        """A barrier of its own (own thread, own loop): two cars in, one out unpaid; the upload."""
        keys = fixed_key_material(rotated=False)
        barrier = OfflineBarrier(
            device_id, Lot(lot_id=lot_id, tariff=load_tariff("hanoi-car")), keys.keyset,
            keys.secure_module(), tmp_path / "barrier.sqlite", collector=None, clock=lambda: now,
        )  # fmt: skip
        a, b = (
            issue_credential(keys, credential_id=n, product="WALLET", now=now - timedelta(hours=3))
            for n in credentials
        )
        came, left = now - timedelta(minutes=95), now - timedelta(minutes=5)
        assert barrier.present_entry(a.token_at(came), came).opened
        stays = came + timedelta(minutes=20)
        assert barrier.present_entry(b.token_at(stays), stays).opened
        exit_ = barrier.present_exit(a.token_at(left), left)  # offline: the fee is not taken
        assert exit_.opened
        assert exit_.failure is not None

        async def upload() -> int:
            http = DeviceClient(live_app.url, device_id, secret)
            try:
                return await barrier.upload(http_uploader(http))
            finally:
                await http.aclose()

        return asyncio.run(upload())

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(drive_barrier).result(timeout=60) == 3
    expect(row.locator('[data-field="occupied"]')).to_have_text("1")
    expect(row.locator('[data-field="free"]')).to_have_text("119")
    assert page.locator("#uncollected").inner_text().count("Vincom") == 0  # not live: on reload
    assert page.evaluate("() => window.notReloaded") is True  # the same page, not a reload

    # Taps uploaded earlier (the finance test's gates, or none yet) are in the devices table.
    live_app.run(city(live_app))
    page.reload()
    unpaid = page.locator("#uncollected tbody tr")
    expect(unpaid).to_have_count(1)
    expect(unpaid).to_contain_text(str(credentials[0]))
    expect(unpaid).to_contain_text("barrier offline")
    expect(page.locator('#devices tr[data-device-id="M2A-01-G3"] [data-field="lag"]')).to_have_text(
        "0"
    )
    screenshot(page, "operator-desktop.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "operator-phone.png")
