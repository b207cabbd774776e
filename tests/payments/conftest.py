"""Fixtures for the payment flows: localstripe (the shared helper), a fault proxy in front of
it, and a PaymentsService on the per-test database of tests/conftest.py (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateways.localstripe_server import LocalStripe
from gateways.stripe_gateway import StripeGateway
from tests.gateways.fault_proxy import FaultProxy
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payments.service import PaymentsService
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.services.taps import ingest_and_price
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

WEBHOOK_SECRET = "whsec_payments_tests"
CLIENT_TIMEOUT = 0.4
PROXY_DELAY = 0.6
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
HANOI_FEED = Path(__file__).resolve().parents[2] / "data" / "hanoi"
RIDE = timedelta(minutes=25)
LINE_2A = accounts.operator("HMC")


@pytest.fixture
async def fault_proxy(localstripe_server: LocalStripe) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(localstripe_server.base_url, delay=PROXY_DELAY) as proxy:
        yield proxy


@pytest.fixture
async def gateway(
    localstripe_server: LocalStripe, fault_proxy: FaultProxy
) -> AsyncIterator[StripeGateway]:
    """The gateway as the service sees it: through the (idle unless told) fault proxy."""
    async with StripeGateway(
        localstripe_server.api_key, fault_proxy.url, timeout=CLIENT_TIMEOUT
    ) as gw:
        yield gw


@pytest.fixture
def payments(uow_factory: UnitOfWorkFactory, gateway: StripeGateway) -> PaymentsService:
    return PaymentsService(uow_factory, gateway, webhook_secret=WEBHOOK_SECRET)


async def add_rider(
    uow_factory: UnitOfWorkFactory,
    *,
    debt_limit: int = 0,
    credentials: int = 2,
    mode: PaymentMode = PaymentMode.POSTPAID_CARD,
) -> tuple[str, list[int]]:
    """A rider (postpaid unless told) registered through the service layer, with live
    credentials."""
    account_id = "acc-" + secrets.token_hex(6)
    now = datetime.now(UTC)
    ids = [secrets.randbits(64) for _ in range(credentials)]
    account = RiderAccount(account_id, "regular", mode, "VND", debt_limit=debt_limit)
    issued = [CredentialRecord(cid, account_id, now, now + timedelta(days=365), now) for cid in ids]
    await register_riders(uow_factory, [Registration(account, issued)], at=now)
    return account_id, ids


@pytest.fixture(scope="session")
def hanoi() -> FareFeed:
    return load_feed(HANOI_FEED)


async def ride_the_metro(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, account_id: str, day: date
) -> Money:
    """Two metro rides on line 2A on `day` (15,000 and 12,000 VND), tapped, uploaded and priced
    through the service layer; returns what they cost."""
    morning = datetime.combine(day, time(7, 30), HANOI)
    evening = datetime.combine(day, time(17, 30), HANOI)
    rides = [
        (morning, "m2a_01", TapKind.ENTRY),
        (morning + RIDE, "m2a_12", TapKind.EXIT),
        (evening, "m2a_12", TapKind.ENTRY),
        (evening + RIDE, "m2a_06", TapKind.EXIT),
    ]
    first_seq = secrets.randbits(40)  # each gate's journal numbers every rider's taps
    taps = [
        Tap(f"gate-{stop}", first_seq + n, 0, account_id, at, "m2a", stop, kind)
        for n, (at, stop, kind) in enumerate(rides)
    ]
    before = await _carried(uow_factory)
    await ingest_and_price(uow_factory, feed, taps)
    return await _carried(uow_factory) - before


async def _carried(uow_factory: UnitOfWorkFactory) -> Money:
    """What line 2A's operator is owed for the rides it carried."""
    async with uow_factory() as uow:
        found = await uow.ledger.accounts([LINE_2A])
    return found[LINE_2A].normal_balance if LINE_2A in found else Money(0, "VND")
