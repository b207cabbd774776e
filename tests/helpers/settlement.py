"""Rides for the settlement tests: a metro ride on line 2A (m2a_01 to m2a_12) on a given day
and hour, tapped at the rider's own gate; postpaid riders with a card who rode on `DAY`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.services.taps import ingest_and_price
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)
NEXT = date(2026, 11, 25)


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HANOI)


def ride(seq: int, account: str, day: date, hour: int) -> list[Tap]:
    return [
        Tap(f"gate-{account}", seq, 42, account, at(day, hour, 0), "m2a", "m2a_01", TapKind.ENTRY),
        Tap(
            f"gate-{account}",
            seq + 1,
            42,
            account,
            at(day, hour, 25),
            "m2a",
            "m2a_12",
            TapKind.EXIT,
        ),
    ]


async def postpaid_riders_who_rode(
    uows: UnitOfWorkFactory,
    payments: PaymentsService,
    feed: FareFeed,
    *,
    prefix: str,
    count: int,
    first_credential: int,
) -> list[str]:
    """`count` postpaid riders with a card on file, each with one priced ride on `DAY` (the
    n-th at 7+n o'clock); their account ids, unique to the run."""
    now = datetime.now(ZoneInfo("UTC"))
    accounts = [f"{prefix}-{n}-{now.timestamp():.0f}" for n in range(count)]
    await register_riders(
        uows,
        [
            Registration(
                RiderAccount(account, "regular", PaymentMode.POSTPAID_CARD, "VND"),
                [
                    CredentialRecord(
                        first_credential + n, account, now, now + timedelta(days=365), now
                    )
                ],
            )
            for n, account in enumerate(accounts)
        ],
        at=now,
    )
    for account in accounts:
        await payments.save_card(account, "pm_card_visa")
    taps = [t for n, account in enumerate(accounts) for t in ride(1, account, DAY, 7 + n)]
    await ingest_and_price(uows, feed, taps)
    return accounts
