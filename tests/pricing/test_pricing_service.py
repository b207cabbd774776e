"""Pricing stored taps and posting fares: versions, late taps, who pays (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from faregate_data import HANOI_FEED
from tests.wallets import top_up
from ticketing import postings
from ticketing.db.models import PricedDayRow, PricedLegRow
from ticketing.errors import UnknownRider
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.fares.pricing import DayPrice, price_day
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.pricing import FarePricing, account_days
from ticketing.stores.pricing import NewPricedDay, PricedDayVersion
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory

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
        result = await FarePricing(uow, feed).price_day("alice", DAY)
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
        pricing = FarePricing(uow, feed)
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
        first_fare = postings.fare_posting_id("alice", DAY, 1)
        assert second.posting_ids == (
            postings.fare_reversal_id(first_fare),
            postings.fare_posting_id("alice", DAY, 2),
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
        await FarePricing(uow, feed).price_day("bob", DAY)
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
        result = await FarePricing(uow, feed).price_day("carol", DAY)
        assert result.total == Money(30_000, "VND")  # five 15,000 rides capped at the day pass
        assert await uow.ledger.balance(accounts.receivable("carol")) == Money(30_000, "VND")


async def test_taps_of_an_unknown_account_are_refused(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    async with uow_factory() as uow:
        await store(uow, tap(1, at(7, 30), "m2a_01", TapKind.ENTRY, "ghost"))
        with pytest.raises(UnknownRider):
            await FarePricing(uow, feed).price_day("ghost", DAY)


def test_a_tap_out_after_the_cutoff_also_touches_the_previous_day(feed: FareFeed) -> None:
    late_exit = tap(2, datetime(2026, 11, 25, 4, 10, tzinfo=HANOI), "m2a_12", TapKind.EXIT)
    assert account_days(feed, [late_exit]) == {("alice", DAY), ("alice", date(2026, 11, 25))}


async def test_each_leg_records_the_journey_it_belongs_to(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    """`journey_index` numbers the day's journeys (by the fare engine's journey id), not the
    legs: two legs of one journey share it."""
    rides = [
        tap(1, at(7, 30), "m2a_01", TapKind.ENTRY),
        tap(2, at(7, 55), "m2a_12", TapKind.EXIT),
        tap(3, at(8, 10), "m2a_12", TapKind.ENTRY),
        tap(4, at(8, 30), "m2a_05", TapKind.EXIT),
        tap(5, at(17, 0), "m2a_05", TapKind.ENTRY),
        tap(6, at(17, 20), "m2a_01", TapKind.EXIT),
    ]
    priced = price_day(feed, rides)
    first, second, third = priced.legs
    # The second leg continues the first leg's journey (as a joined continuation would).
    two_leg_journey = DayPrice(
        priced.total,
        (first, replace(second, journey_id=first.journey_id), third),
        priced.caps_applied,
        priced.cap_spend,
    )
    async with uow_factory() as uow:
        await add_rider(uow, "alice", PaymentMode.POSTPAID_CARD)
        await uow.pricing.record(
            [
                NewPricedDay(
                    PricedDayVersion("alice", DAY, 1, two_leg_journey.fingerprint(), None),
                    two_leg_journey,
                    len(rides),
                    datetime.now(UTC),
                )
            ]
        )
        rows = await uow.session.execute(
            select(PricedLegRow.leg_index, PricedLegRow.journey_index).order_by(
                PricedLegRow.leg_index
            )
        )
        assert [tuple(row) for row in rows] == [(0, 0), (1, 0), (2, 1)]
