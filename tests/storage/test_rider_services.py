"""The riders' use cases of the service layer: register, buy a pass, and the deny list gates
load (SQLite and PostgreSQL; a lost phone: tests/services/test_passengers.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ticketing import postings
from ticketing.errors import PassNotSold, RecordConflict
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import CredentialRecord, PassStatus, PaymentMode, RiderAccount
from ticketing.services.riders import (
    Registration,
    buy_pass,
    register_riders,
)
from ticketing.unit_of_work import UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=HANOI)
FEED_DIR = Path(__file__).resolve().parents[2] / "data" / "hanoi"
PREPAID = RiderAccount("ana", "regular", PaymentMode.PREPAID_WALLET, "VND", overdraft_limit=300_000)
POSTPAID = RiderAccount("ben", "regular", PaymentMode.POSTPAID_CARD, "VND")
CHILD = RiderAccount("cai", "child_under_6", PaymentMode.PREPAID_WALLET, "VND")


@pytest.fixture(scope="module")
def feed() -> FareFeed:
    return load_feed(FEED_DIR)


def phone(credential_id: int, account: str) -> CredentialRecord:
    return CredentialRecord(credential_id, account, NOW, NOW + timedelta(days=30), NOW)


async def register(uow_factory: UnitOfWorkFactory) -> None:
    await register_riders(
        uow_factory,
        [
            Registration(PREPAID, [phone(1, "ana")]),
            Registration(POSTPAID, [phone(2, "ben")]),
            Registration(CHILD),
        ],
        at=NOW,
    )


async def test_registering_opens_the_ledger_account_and_is_idempotent(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await register(uow_factory)
    await register(uow_factory)
    async with uow_factory() as uow:
        assert await uow.riders.get_account("ana") == PREPAID
        assert [c.credential_id for c in await uow.riders.credentials_for("ben")] == [2]
        wallet = await uow.ledger.account(accounts.wallet("ana"))
        assert wallet.overdraft_limit == 300_000
        assert (await uow.ledger.account(accounts.receivable("ben"))).balance == 0
    with pytest.raises(RecordConflict):
        await register_riders(
            uow_factory,
            [Registration(RiderAccount("ana", "regular", PaymentMode.POSTPAID_CARD, "VND"))],
            at=NOW,
        )


async def test_a_pass_is_paid_by_the_payer_into_unearned_revenue_once(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    await register(uow_factory)
    sale = await buy_pass(uow_factory, feed, "ana", "m2a_month", at=NOW)
    again = await buy_pass(uow_factory, feed, "ana", "m2a_month", at=NOW)
    postpaid = await buy_pass(uow_factory, feed, "ben", "bus_month_all", at=NOW)
    assert again == sale
    assert sale.posting_id == postings.pass_sale_id("ana", "m2a_month", sale.valid_from)
    assert sale.valid_until > NOW >= sale.valid_from
    async with uow_factory() as uow:
        [held] = await uow.riders.passes_for("ana", valid_at=NOW)
        assert (held.status, held.posting_id, held.price) == (
            PassStatus.ACTIVE,
            sale.posting_id,
            sale.price,
        )
        assert await uow.ledger.balance(accounts.wallet("ana")) == -sale.price
        assert await uow.ledger.balance(accounts.receivable("ben")) == postpaid.price
        assert await uow.ledger.balance(postings.PASS_REVENUE) == sale.price + postpaid.price
        assert (await uow.ledger.check_invariants()).ok
    assert sale.price > Money(0, "VND")
    with pytest.raises(PassNotSold):
        await buy_pass(uow_factory, feed, "cai", "no_such_pass", at=NOW)
