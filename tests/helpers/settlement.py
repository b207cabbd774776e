"""Rides for the settlement tests: a metro ride on line 2A (m2a_01 to m2a_12) on a given day
and hour, tapped at the rider's own gate; riders with a card on file (postpaid ones who rode
on `DAY`); a stay at a car park on a rider's receivable."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ticketing import postings
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts as ledger_accounts
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


async def rider_with_card(
    uows: UnitOfWorkFactory,
    payments: PaymentsService,
    rider: str,
    card: str = "pm_card_visa",
    *,
    mode: PaymentMode = PaymentMode.POSTPAID_CARD,
    credential: int | None = None,
) -> None:
    """`rider` registered now (postpaid unless told) with `card` saved; with `credential`, a
    credential of that id valid for a year."""
    now = datetime.now(ZoneInfo("UTC"))
    held = [] if credential is None else [
        CredentialRecord(credential, rider, now, now + timedelta(days=365), now)
    ]  # fmt: skip
    await register_riders(
        uows, [Registration(RiderAccount(rider, "regular", mode, "VND"), held)], at=now
    )
    await payments.save_card(rider, card)


async def park(uows: UnitOfWorkFactory, rider: str, session: str, fee: int, left: datetime) -> None:
    """A stay at the vincom car park (operator lots-co) whose fee is on the rider's
    receivable, posted as the barrier's exit at `left` posts it."""
    async with uows() as uow:
        await uow.ledger.post(
            postings.parking_fee(
                f"parking:{session}", operator_id="lots-co",
                payers=[(ledger_accounts.receivable(rider), fee)], currency="VND",
                session_id=session, lot_id="vincom", at=left,
            )
        )  # fmt: skip
        await uow.commit()
