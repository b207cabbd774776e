"""Riders and rides for the payment flow tests, through the service layer: a rider with live
credentials, and a day's metro rides tapped, uploaded and priced."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.services.taps import ingest_and_price
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
RIDE = timedelta(minutes=25)
LINE_2A = accounts.operator("HMC")
WEBHOOK_SECRET = "whsec_payments_tests"


async def add_rider(
    uow_factory: UnitOfWorkFactory,
    *,
    debt_limit: int = 0,
    credentials: int = 2,
    mode: PaymentMode = PaymentMode.POSTPAID_CARD,
) -> tuple[str, list[int]]:
    """A rider (postpaid unless told) registered through the service layer, with live
    credentials."""
    [rider] = await add_riders(
        uow_factory, 1, debt_limit=debt_limit, credentials=credentials, mode=mode
    )
    return rider


async def add_riders(
    uow_factory: UnitOfWorkFactory,
    count: int,
    *,
    debt_limit: int = 0,
    credentials: int = 2,
    mode: PaymentMode = PaymentMode.POSTPAID_CARD,
) -> list[tuple[str, list[int]]]:
    """`count` riders as `add_rider` makes them, registered in one use case."""
    now = datetime.now(UTC)
    riders = [
        ("acc-" + secrets.token_hex(6), [secrets.randbits(64) for _ in range(credentials)])
        for _ in range(count)
    ]
    await register_riders(
        uow_factory,
        [
            Registration(
                RiderAccount(account_id, "regular", mode, "VND", debt_limit=debt_limit),
                [CredentialRecord(c, account_id, now, now + timedelta(days=365), now) for c in ids],
            )
            for account_id, ids in riders
        ],
        at=now,
    )
    return riders


async def ride_the_metro(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, account_id: str, day: date
) -> Money:
    """Two metro rides on line 2A on `day` (15,000 and 12,000 VND), tapped, uploaded and priced
    through the service layer; returns what they cost."""
    morning = datetime.combine(day, time(7, 30), HANOI)
    evening = datetime.combine(day, time(17, 30), HANOI)
    rides = [
        (morning, "m2a", "m2a_01", TapKind.ENTRY),
        (morning + RIDE, "m2a", "m2a_12", TapKind.EXIT),
        (evening, "m2a", "m2a_12", TapKind.ENTRY),
        (evening + RIDE, "m2a", "m2a_06", TapKind.EXIT),
    ]
    before = await _carried(uow_factory)
    await tap_and_price(uow_factory, feed, account_id, rides)
    return await _carried(uow_factory) - before


async def tap_and_price(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    account_id: str,
    taps: Sequence[tuple[datetime, str, str, TapKind]],
) -> None:
    """The account's taps (when, route, stop, kind), each on its stop's device, uploaded and
    priced through the service layer."""
    first_seq = secrets.randbits(40)  # each device's journal numbers every rider's taps
    await ingest_and_price(
        uow_factory,
        feed,
        [
            Tap(f"gate-{stop}", first_seq + n, 0, account_id, at, route, stop, kind)
            for n, (at, route, stop, kind) in enumerate(taps)
        ],
    )


async def _carried(uow_factory: UnitOfWorkFactory) -> Money:
    """What line 2A's operator is owed for the rides it carried."""
    async with uow_factory() as uow:
        found = await uow.ledger.accounts([LINE_2A])
    return found[LINE_2A].normal_balance if LINE_2A in found else Money(0, "VND")
