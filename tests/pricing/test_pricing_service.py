"""Pricing stored taps and posting fares: versions, late taps, who pays (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from faregate_data import HANOI_FEED
from ticketing.db.models import PricedDayRow
from ticketing.db.uow import UnitOfWork, UnitOfWorkFactory
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.pricing import FarePricing, UnknownRider, account_days
from ticketing.taps import Tap, TapKind

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)
FEED_DIR = HANOI_FEED


@pytest.fixture(scope="module")
def feed() -> FareFeed:
    return load_feed(FEED_DIR)


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 24, hour, minute, tzinfo=HANOI)


def tap(seq: int, when: datetime, stop: str, kind: TapKind, account: str = "alice") -> Tap:
    return Tap(f"gate-{stop}", seq, 42, account, when, "m2a", stop, kind)


async def add_rider(uow: UnitOfWork, account: str, mode: PaymentMode, overdraft: int = 0) -> None:
    await uow.riders.open_account(
        RiderAccount(account, "regular", mode, "VND", overdraft_limit=overdraft)
    )


async def store(uow: UnitOfWork, *taps: Tap) -> None:
    await uow.taps.ingest(taps)


async def top_up(uow: UnitOfWork, account: str, amount: int) -> None:
    await uow.ledger.post(
        Posting.transfer(
            f"topup:{account}",
            debit=accounts.gateway_clearing("stripe"),
            credit=accounts.wallet(account),
            amount=Money(amount, "VND"),
            occurred_at=datetime.now(UTC),
        )
    )


async def test_prepaid_ride_is_paid_from_the_wallet_to_the_operator(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    async with uow_factory() as uow:
        await add_rider(uow, "alice", PaymentMode.PREPAID_WALLET)
        await top_up(uow, "alice", 50_000)
        await store(
            uow,
            tap(1, at(7, 30), "m2a_01", TapKind.ENTRY),
            tap(1, at(7, 55), "m2a_12", TapKind.EXIT),
        )
        result = await FarePricing(uow.session, uow.ledger, feed).price_day("alice", DAY)
        assert result.total == Money(15_000, "VND")
        assert result.changed
        assert (result.version, result.tap_count) == (1, 2)
        assert await uow.ledger.balance(accounts.wallet("alice")) == Money(35_000, "VND")
        assert await uow.ledger.balance(accounts.operator("HMC")) == Money(15_000, "VND")
        assert (await uow.ledger.check_invariants()).ok
        await uow.commit()


async def test_late_tap_out_reprices_the_incomplete_journey(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    async with uow_factory() as uow:
        await add_rider(uow, "alice", PaymentMode.PREPAID_WALLET)
        await top_up(uow, "alice", 50_000)
        await store(uow, tap(1, at(7, 30), "m2a_01", TapKind.ENTRY))
        pricing = FarePricing(uow.session, uow.ledger, feed)
        first = await pricing.price_day("alice", DAY)
        assert first.total == Money(15_000, "VND")  # incomplete: the maximum fare
        again = await pricing.price_day("alice", DAY)
        assert not again.changed
        assert (again.version, again.posting_ids) == (1, ())

        await store(uow, tap(1, at(7, 34), "m2a_02", TapKind.EXIT))
        second = await pricing.price_day("alice", DAY)
        assert second.changed
        assert second.version == 2
        assert second.total == Money(8_000, "VND")
        assert second.posting_ids == (
            "fare:alice:2026-11-24:v1:reversal",
            "fare:alice:2026-11-24:v2",
        )
        assert await uow.ledger.balance(accounts.wallet("alice")) == Money(42_000, "VND")
        assert await uow.ledger.balance(accounts.operator("HMC")) == Money(8_000, "VND")
        versions = (await uow.session.scalars(select(PricedDayRow.version))).all()
        assert sorted(versions) == [1, 2]
        assert (await uow.ledger.check_invariants()).ok


async def test_what_the_wallet_cannot_cover_becomes_debt(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    async with uow_factory() as uow:
        await add_rider(uow, "bob", PaymentMode.PREPAID_WALLET)
        await top_up(uow, "bob", 10_000)
        await store(
            uow,
            tap(1, at(7, 30), "m2a_01", TapKind.ENTRY, "bob"),
            tap(1, at(7, 55), "m2a_12", TapKind.EXIT, "bob"),
        )
        await FarePricing(uow.session, uow.ledger, feed).price_day("bob", DAY)
        assert await uow.ledger.balance(accounts.wallet("bob")) == Money(0, "VND")
        assert await uow.ledger.balance(accounts.receivable("bob")) == Money(5_000, "VND")
        assert (await uow.ledger.check_invariants()).ok


async def test_postpaid_fares_go_to_the_receivable(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    async with uow_factory() as uow:
        await add_rider(uow, "carol", PaymentMode.POSTPAID_CARD)
        rides = [
            t
            for n, hour in enumerate((7, 9, 11, 13, 15))
            for t in (
                tap(2 * n + 1, at(hour, 0), "m2a_01", TapKind.ENTRY, "carol"),
                tap(2 * n + 2, at(hour, 30), "m2a_12", TapKind.EXIT, "carol"),
            )
        ]
        await store(uow, *rides)
        result = await FarePricing(uow.session, uow.ledger, feed).price_day("carol", DAY)
        assert result.total == Money(30_000, "VND")  # five 15,000 rides capped at the day pass
        assert await uow.ledger.balance(accounts.receivable("carol")) == Money(30_000, "VND")


async def test_taps_of_an_unknown_account_are_refused(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    async with uow_factory() as uow:
        await store(uow, tap(1, at(7, 30), "m2a_01", TapKind.ENTRY, "ghost"))
        with pytest.raises(UnknownRider):
            await FarePricing(uow.session, uow.ledger, feed).price_day("ghost", DAY)


def test_a_tap_out_after_the_cutoff_also_touches_the_previous_day(feed: FareFeed) -> None:
    late_exit = tap(2, datetime(2026, 11, 25, 4, 10, tzinfo=HANOI), "m2a_12", TapKind.EXIT)
    assert account_days(feed, [late_exit]) == {("alice", DAY), ("alice", date(2026, 11, 25))}
