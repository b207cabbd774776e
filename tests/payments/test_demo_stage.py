"""The demo's payments stage on a small rider set: it charges, declines, retries, refunds, and
its books check passes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console

from faregate.demo.payments_stage import run_payments_stage
from tests.helpers.payments import add_rider, ride_the_metro
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import PaymentMode
from ticketing.unit_of_work import UnitOfWorkFactory

DAY = date(2026, 11, 24)


@dataclass(frozen=True)
class Rider:
    account_id: str
    payment_mode: PaymentMode


async def test_payments_stage_balances(
    uow_factory: UnitOfWorkFactory, tmp_path: Path, hanoi: FareFeed
) -> None:
    riders = [Rider((await add_rider(uow_factory))[0], PaymentMode.POSTPAID_CARD) for _ in range(3)]
    riders += [Rider(f"prepaid-{n}", PaymentMode.PREPAID_WALLET) for n in range(2)]
    day_fares = [await ride_the_metro(uow_factory, hanoi, r.account_id, DAY) for r in riders[:3]]
    assert day_fares == [Money(27_000, "VND")] * 3

    result = await run_payments_stage(
        tmp_path, Console(quiet=True), uow_factory=uow_factory, riders=riders, service_day=DAY
    )
    assert result.ok
    assert result.declined_account is not None
    assert result.denied_while_in_debt
    assert result.debt_cleared_by_retry
    assert result.charged == 81_000  # three days of 27k, one of them after the retry
    assert result.charges == 2
    assert result.top_ups == 2
    assert result.refunded == 25_000
    assert result.clearing_in_ledger == 81_000 + 200_000 - 25_000
    async with uow_factory() as uow:
        for rider in riders[:3]:
            assert await uow.ledger.balance(accounts.receivable(rider.account_id)) == Money(
                0, "VND"
            )
