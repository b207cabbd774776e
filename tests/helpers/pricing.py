"""Riders and rides for the pricing tests: postpaid riders registered through the service
layer, a metro ride on line 2A (15,000 VND), and what the pricing left behind."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ticketing.db.models import PricedDayRow
from ticketing.ledger import accounts
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAYS = (date(2025, 3, 10), date(2025, 3, 11))
RIDE = timedelta(minutes=25)
SEQ = iter(range(1, 10**9))


async def add_riders(uow_factory: UnitOfWorkFactory, count: int) -> list[str]:
    now = datetime.now(UTC)
    registrations = []
    for _ in range(count):
        account = RiderAccount(
            "acc-" + secrets.token_hex(6), "regular", PaymentMode.POSTPAID_CARD, "VND"
        )
        credential = CredentialRecord(
            secrets.randbits(63), account.id, now, now + timedelta(days=365), now
        )
        registrations.append(Registration(account, [credential]))
    await register_riders(uow_factory, registrations, at=now)
    return [r.account.id for r in registrations]


def ride(account_id: str, day: date, at: time = time(7, 30)) -> list[Tap]:
    """One metro ride on line 2A (m2a_01 to m2a_12, 15,000 VND) on `day`."""
    start = datetime.combine(day, at, HANOI)
    return [
        Tap("gate-a", next(SEQ), 0, account_id, start, "m2a", "m2a_01", TapKind.ENTRY),
        Tap("gate-b", next(SEQ), 0, account_id, start + RIDE, "m2a", "m2a_12", TapKind.EXIT),
    ]


async def priced_versions(uow_factory: UnitOfWorkFactory) -> Counter[tuple[str, date]]:
    async with uow_factory() as uow:
        rows = await uow.session.execute(select(PricedDayRow.account_id, PricedDayRow.service_day))
        return Counter((account, day) for account, day in rows)


async def receivables(uow_factory: UnitOfWorkFactory, riders: Sequence[str]) -> int:
    async with uow_factory() as uow:
        found = await uow.ledger.accounts([accounts.receivable(r) for r in riders])
        report = await uow.ledger.check_invariants()
    assert report.ok, report
    return sum(state.normal_balance.amount for state in found.values())
