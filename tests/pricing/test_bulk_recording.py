"""Recording many first pricings in bulk leaves the database exactly as `price_day` one account-day
at a time would, and recording them again changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from faregate_data import HANOI_FEED
from ticketing import postings
from ticketing.db.models import EntryRow, LedgerAccountRow, PostingRow, PricedDayRow, PricedLegRow
from ticketing.errors import DayAlreadyPriced
from ticketing.fares import FareFeed, HeldPass, load_feed, pass_validity, price_day
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import PassRecord, PaymentMode, RiderAccount
from ticketing.services.pricing import FarePricing, PricedAccountDay
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)
NEXT_DAY = date(2026, 11, 25)
FEED_DIR = HANOI_FEED
PRICED_AT = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
PREPAID, POSTPAID = PaymentMode.PREPAID_WALLET, PaymentMode.POSTPAID_CARD

# (rider, wallet top-up): every way of paying, a free category, a pass holder, and a prepaid
# rider priced on two days whose wallet (60,000 for two 46,000 days) runs dry on the second.
RIDERS = (
    (RiderAccount("postpaid", "regular", POSTPAID, "VND"), 0),
    (RiderAccount("funded", "regular", PREPAID, "VND"), 100_000),
    (RiderAccount("short", "regular", PREPAID, "VND"), 10_000),
    (RiderAccount("empty", "regular", PREPAID, "VND"), 0),
    (RiderAccount("overdrawn", "regular", PREPAID, "VND", overdraft_limit=5_000), 0),
    (RiderAccount("senior", "senior_60_plus", POSTPAID, "VND"), 0),
    (RiderAccount("pass-holder", "regular", POSTPAID, "VND"), 0),
    (RiderAccount("two-days", "regular", PREPAID, "VND"), 60_000),
)
M2A_PASS = "m2a_month"


@pytest.fixture(scope="module")
def feed() -> FareFeed:
    return load_feed(FEED_DIR)


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HANOI)


def day_taps(account: str, day: date, first_seq: int) -> list[Tap]:
    """A metro ride end to end, a short metro ride, a bus ride and a metro ride never tapped out."""
    ride = [
        ("m2a", "m2a_01", TapKind.ENTRY, 7, 0),
        ("m2a", "m2a_12", TapKind.EXIT, 7, 25),
        ("m3", "m3_s1", TapKind.ENTRY, 9, 0),
        ("m3", "m3_s3", TapKind.EXIT, 9, 8),
        ("brt01", "bx_kim_ma", TapKind.BOARD, 12, 0),
        ("brt01", "brt_van_phuc", TapKind.ALIGHT, 12, 20),
        ("m2a", "m2a_03", TapKind.ENTRY, 18, 0),
    ]
    return [
        Tap(f"dev-{stop}", first_seq + n, 7, account, at(day, hour, minute), route, stop, kind)
        for n, (route, stop, kind, hour, minute) in enumerate(ride)
    ]


def account_days() -> list[tuple[RiderAccount, date, list[Tap]]]:
    days = []
    for n, (rider, _) in enumerate(RIDERS):
        days.append((rider, DAY, day_taps(rider.id, DAY, 100 * n)))
        if rider.id == "two-days":
            days.append((rider, NEXT_DAY, day_taps(rider.id, NEXT_DAY, 100 * n + 50)))
    return days


def held_passes(feed: FareFeed, rider: RiderAccount) -> tuple[HeldPass, ...]:
    if rider.id != "pass-holder":
        return ()
    return (pass_validity(feed, M2A_PASS, at(DAY.replace(day=1), 6, 0)),)


async def set_up(uow: UnitOfWork, feed: FareFeed) -> None:
    """Riders, their wallets' top-ups, the pass, and the taps stored."""
    for rider, top_up in RIDERS:
        await uow.riders.open_account(rider)
        if top_up:
            await uow.ledger.post(
                postings.payment_received(
                    f"topup:{rider.id}",
                    clearing=accounts.gateway_clearing("stripe"),
                    paid_account=accounts.wallet(rider.id),
                    account_id=rider.id,
                    amount=Money(top_up, "VND"),
                    gateway_payment_id=f"pi_{rider.id}",
                    purpose="top_up",
                    at=PRICED_AT,
                )
            )
        for held in held_passes(feed, rider):
            await uow.riders.record_pass(
                PassRecord(
                    f"pass-{rider.id}",
                    rider.id,
                    held.fare_product_id,
                    held.valid_from,
                    held.valid_until,
                    Money(0, "VND"),
                    PRICED_AT,
                )
            )
    await uow.taps.ingest([tap for _, _, taps in account_days() for tap in taps])


def priced_in_memory(feed: FareFeed) -> list[PricedAccountDay]:
    """What a batch pricer holding the taps hands over (as bench/pricing.py does)."""
    return [
        PricedAccountDay(
            rider,
            day,
            price_day(
                feed, taps, rider_category=rider.rider_category, passes=held_passes(feed, rider)
            ),
            len(taps),
        )
        for rider, day, taps in account_days()
    ]


async def snapshot(uow: UnitOfWork) -> dict[str, Any]:
    """Everything pricing writes, without the ledger's own recording times and surrogate ids."""

    async def rows(*columns: Any) -> list[tuple[Any, ...]]:
        result = await uow.session.execute(select(*columns))
        return sorted(
            tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in row)
            for row in result
        )

    leg_columns = [c for c in PricedLegRow.__table__.columns if c.name != "id"]
    return {
        "balances": await rows(LedgerAccountRow.code, LedgerAccountRow.balance),
        "postings": await rows(PostingRow.id, PostingRow.body_hash),
        "entries": await rows(
            EntryRow.posting_id, EntryRow.account_code, EntryRow.amount, EntryRow.currency
        ),
        "days": await rows(*PricedDayRow.__table__.columns),
        "legs": await rows(*leg_columns),
    }


def fixed_clock() -> datetime:
    return PRICED_AT


async def test_bulk_recording_matches_pricing_day_by_day(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    async with uow_factory() as uow:
        await set_up(uow, feed)
        pricing = FarePricing(uow, feed, fixed_clock)
        one_by_one = [await pricing.price_day(r.id, day) for r, day, _ in account_days()]
        expected = await snapshot(uow)
        # leaving without commit rolls back: the bulk path starts from the same state

    async with uow_factory() as uow:
        await set_up(uow, feed)
        pricing = FarePricing(uow, feed, fixed_clock)
        bulk = await pricing.record_new_days(priced_in_memory(feed))
        assert bulk == one_by_one
        assert await snapshot(uow) == expected
        assert (await uow.ledger.check_invariants()).ok
        await uow.commit()

    balances = dict(expected["balances"])
    # The cases the comparison is about really happened: a shortfall became debt, a wallet was
    # drawn down over two days in one batch, the free rider and the pass holder's metro rides
    # were not charged.
    assert -balances[accounts.wallet("short")] == 0
    assert balances[accounts.receivable("short")] > 0
    assert -balances[accounts.wallet("two-days")] == 0
    assert balances[accounts.receivable("two-days")] > 0
    assert ("senior", DAY) not in {(r.account_id, r.service_day) for r in bulk if r.posting_ids}
    by_account = {(r.account_id, r.service_day): r.total.amount for r in bulk}
    assert by_account["pass-holder", DAY] < by_account["postpaid", DAY]
    assert balances[accounts.operator("HMC")] < 0


async def test_recording_again_is_a_no_op(uow_factory: UnitOfWorkFactory, feed: FareFeed) -> None:
    async with uow_factory() as uow:
        await set_up(uow, feed)
        await FarePricing(uow, feed, fixed_clock).record_new_days(priced_in_memory(feed))
        await uow.commit()
    async with uow_factory() as uow:
        before = await snapshot(uow)

    def later() -> datetime:
        return PRICED_AT.replace(hour=23)

    async with uow_factory() as uow:
        pricing = FarePricing(uow, feed, later)
        again = await pricing.record_new_days(priced_in_memory(feed))
        await uow.commit()
    assert not any(result.changed or result.posting_ids for result in again)
    assert {result.version for result in again} == {1}
    async with uow_factory() as uow:
        assert await snapshot(uow) == before


async def test_a_day_recorded_at_another_price_is_refused_and_nothing_is_written(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    priced = priced_in_memory(feed)
    async with uow_factory() as uow:
        await set_up(uow, feed)
        await FarePricing(uow, feed, fixed_clock).record_new_days(priced[:1])
        await uow.commit()
    first = priced[0]
    repriced = PricedAccountDay(
        first.rider,
        first.service_day,
        price_day(feed, day_taps(first.rider.id, DAY, 0)[:2]),
        2,
    )
    async with uow_factory() as uow:
        before = await snapshot(uow)
        pricing = FarePricing(uow, feed, fixed_clock)
        with pytest.raises(DayAlreadyPriced):
            await pricing.record_new_days([*priced[1:], repriced])
        assert await snapshot(uow) == before


async def test_a_day_given_twice_in_one_batch_is_recorded_once(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    priced = priced_in_memory(feed)
    async with uow_factory() as uow:
        await set_up(uow, feed)
        pricing = FarePricing(uow, feed, fixed_clock)
        results = await pricing.record_new_days([priced[0], priced[0]])
        assert [r.changed for r in results] == [True, False]
        count = await uow.session.scalar(select(func.count()).select_from(PricedDayRow))
        assert count == 1
