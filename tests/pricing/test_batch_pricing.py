"""Pricing many account-days in one batch leaves what pricing them one after another leaves:
month-to-date spend and wallet headroom carried from day to day within the batch, re-pricings
reversed and posted again (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.wallets import top_up
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.pricing import DayPricingResult, FarePricing
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# Two 15,000 VND rides a day on line 2A reach its 200,000 VND month cap on the seventh day.
DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(10)]
SEQ = itertools.count(1)


def ride(account: str, day: date, hour: int, *, exit_too: bool = True) -> list[Tap]:
    start = datetime.combine(day, time(hour, 0), HANOI)
    taps = [Tap("gate-1", next(SEQ), 7, account, start, "m2a", "m2a_01", TapKind.ENTRY)]
    if exit_too:
        end = start + timedelta(minutes=25)
        taps.append(Tap("gate-12", next(SEQ), 7, account, end, "m2a", "m2a_12", TapKind.EXIT))
    return taps


async def add_rider(uow: UnitOfWork, account: str) -> None:
    """A prepaid rider whose wallet runs dry during the month (the rest becomes debt)."""
    await uow.riders.open_account(
        RiderAccount(account, "regular", PaymentMode.PREPAID_WALLET, "VND", overdraft_limit=20_000)
    )
    await top_up(uow, account, 100_000)


def first_round(account: str) -> list[Tap]:
    """Two rides a day; the last day's evening ride has no tap-out yet (the maximum fare)."""
    return [
        tap
        for day in DAYS
        for tap in ride(account, day, 7) + ride(account, day, 17, exit_too=day != DAYS[-1])
    ]


def second_round(account: str) -> list[Tap]:
    """The missing tap-out, and a third ride on the third day (more spend towards the cap)."""
    end = datetime.combine(DAYS[-1], time(17, 25), HANOI)
    return [
        Tap("gate-12", next(SEQ), 7, account, end, "m2a", "m2a_12", TapKind.EXIT),
        *ride(account, DAYS[2], 20),
    ]


def outcome(result: DayPricingResult) -> tuple[object, ...]:
    """A result without its account's id (which is in the posting ids)."""
    return (
        result.service_day,
        result.version,
        result.total,
        result.tap_count,
        result.changed,
        len(result.posting_ids),
    )


async def balances(uow: UnitOfWork, account: str) -> tuple[Money, Money]:
    return (
        await uow.ledger.balance(accounts.wallet(account)),
        await uow.ledger.balance(accounts.receivable(account)),
    )


async def test_a_batch_prices_as_one_day_after_another(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    async with uow_factory() as uow:
        for account in ("batched", "one-by-one"):
            await add_rider(uow, account)
        pricing = FarePricing(uow, feed)
        for taps_of in (first_round, second_round):
            await uow.taps.ingest(taps_of("batched") + taps_of("one-by-one"))
            batched = await pricing.price_days(("batched", day) for day in reversed(DAYS))
            one_by_one = [await pricing.price_day("one-by-one", day) for day in DAYS]
            assert [outcome(r) for r in batched] == [outcome(r) for r in one_by_one]
            assert await balances(uow, "batched") == await balances(uow, "one-by-one")
        assert (await uow.ledger.check_invariants()).ok
        await uow.commit()

    # What the test must show happened: the cap, debt, re-pricing reversals and later days
    # re-priced for the third day's extra spend.
    totals = [r.total.amount for r in batched]
    assert totals[:2] == [30_000, 30_000]
    assert sum(totals) == 200_000  # capped
    repriced = [r.service_day for r in batched if r.changed]
    assert DAYS[2] in repriced
    assert DAYS[-1] in repriced
    assert all(len(r.posting_ids) == 2 for r in batched if r.changed and r.total.amount)
    async with uow_factory() as uow:
        wallet, receivable = await balances(uow, "batched")
    assert wallet.amount == -20_000  # drawn to its overdraft limit
    assert receivable.amount == 200_000 - 120_000
