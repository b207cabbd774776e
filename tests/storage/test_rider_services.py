"""The riders' use cases of the service layer: register, buy a pass, and the deny list gates
load (SQLite and PostgreSQL; a lost phone: tests/services/test_passengers.py)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ticketing import postings
from ticketing.errors import PassNotSold, PassOverlaps, RecordConflict
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import (
    CredentialRecord,
    PassRecord,
    PassStatus,
    PaymentMode,
    RiderAccount,
)
from ticketing.services.riders import (
    Registration,
    buy_pass,
    register_riders,
)
from ticketing.stores.riders import Riders
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
    assert sale.posting_id == postings.pass_sale_id("ana", "m2a_month", NOW.date())
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


async def test_a_pass_is_its_account_product_and_first_service_day(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    """The same purchase again (a retry a minute later) is the same pass, charged once; the
    month after it has run out is a new pass; one bought while the held one still runs is
    refused, saying until when it runs. (The retry raised PostingConflict and the renewal
    RecordConflict: the pass id had no period, the posting's time changed with each try.)"""
    await register(uow_factory)
    first = await buy_pass(uow_factory, feed, "ben", "bus_month_all", at=NOW)
    assert first.pass_id == "ben:bus_month_all:2026-11-24"
    retried = await buy_pass(
        uow_factory, feed, "ben", "bus_month_all", at=NOW + timedelta(minutes=1)
    )
    assert retried == first
    until = first.valid_until.astimezone(UTC).isoformat()
    with pytest.raises(PassOverlaps, match=f"already held until {re.escape(until)}"):
        await buy_pass(uow_factory, feed, "ben", "bus_month_all", at=NOW + timedelta(days=10))
    renewed = await buy_pass(uow_factory, feed, "ben", "bus_month_all", at=first.valid_until)
    assert renewed.pass_id == "ben:bus_month_all:2026-12-24"
    assert renewed.valid_from == first.valid_until
    later = first.valid_until + timedelta(hours=5)
    assert await buy_pass(uow_factory, feed, "ben", "bus_month_all", at=later) == renewed
    async with uow_factory() as uow:
        assert await uow.ledger.balance(accounts.receivable("ben")) == first.price + renewed.price
        assert [p.id for p in await uow.riders.passes_for("ben")] == [
            first.pass_id,
            renewed.pass_id,
        ]


async def test_a_pass_bought_twice_at_once_is_sold_once(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    await register(uow_factory)
    sales = await asyncio.gather(
        *(
            buy_pass(uow_factory, feed, "ben", "bus_month_all", at=NOW + timedelta(seconds=n))
            for n in range(4)
        )
    )
    assert len(set(sales)) == 1
    async with uow_factory() as uow:
        assert await uow.ledger.balance(accounts.receivable("ben")) == sales[0].price


async def test_a_repeat_committed_between_the_look_and_the_overlap_check_is_the_same_sale(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving the concurrent test above can meet: this request looks for its pass
    before another request for the same purchase commits it, and reads the account's passes
    after. It is the same sale, not an overlap (it was PassOverlaps on PostgreSQL)."""
    await register(uow_factory)
    first = await buy_pass(uow_factory, feed, "ben", "bus_month_all", at=NOW)
    looked = Riders.find_pass

    async def before_the_commit(self: Riders, pass_id: str) -> PassRecord | None:
        monkeypatch.setattr(Riders, "find_pass", looked)  # only this request's first look
        return None

    monkeypatch.setattr(Riders, "find_pass", before_the_commit)
    assert await buy_pass(uow_factory, feed, "ben", "bus_month_all", at=NOW) == first
    async with uow_factory() as uow:
        assert await uow.ledger.balance(accounts.receivable("ben")) == first.price
