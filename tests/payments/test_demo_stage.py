"""The demo's payments stage on a small rider set: it charges, declines, retries, refunds, and
its books check passes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console

from faregate.demo.payments_stage import run_payments_stage
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.riders import PaymentMode
from ticketing.unit_of_work import UnitOfWorkFactory

from .conftest import add_rider

DAY = date(2026, 11, 24)


@dataclass(frozen=True)
class Rider:
    account_id: str
    payment_mode: PaymentMode


async def test_payments_stage_balances(uow_factory: UnitOfWorkFactory, tmp_path: Path) -> None:
    riders = [Rider((await add_rider(uow_factory))[0], PaymentMode.POSTPAID_CARD) for _ in range(3)]
    riders += [Rider(f"prepaid-{n}", PaymentMode.PREPAID_WALLET) for n in range(2)]
    async with uow_factory() as uow:
        for n, rider in enumerate(riders[:3]):
            await uow.ledger.post(
                Posting.transfer(
                    f"fare:{rider.account_id}",
                    debit=accounts.receivable(rider.account_id),
                    credit=accounts.operator("metro-2a"),
                    amount=Money(8_000 * (n + 1), "VND"),
                    occurred_at=uow.clock(),
                )
            )
        await uow.commit()

    result = await run_payments_stage(
        tmp_path, Console(quiet=True), uow_factory=uow_factory, riders=riders, service_day=DAY
    )
    assert result.ok
    assert result.declined_account is not None
    assert result.denied_while_in_debt
    assert result.debt_cleared_by_retry
    assert result.charged == 48_000  # 8k + 16k + 24k, one of them after the retry
    assert result.top_ups == 2
    assert result.refunded == 25_000
    assert result.clearing_in_ledger == 48_000 + 200_000 - 25_000
