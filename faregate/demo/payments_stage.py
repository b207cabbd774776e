"""Demo stage: cashless payments through localstripe, started privately for the run.

Every rider gets a gateway customer and a saved card. Prepaid riders top up their wallets;
postpaid riders are charged once for the service day, for what their receivable says they owe.
One postpaid rider's card is declined (the account goes into debt recovery and its credentials
are denied), then they save another card and the retry clears the debt. One top-up is partly
refunded. Riders are told through the file outbox in the demo's directory (the declined
rider twice: the decline, then the debt paid). The stage ends by checking the books: the
ledger balances, and the gateway clearing account holds exactly what the gateway says it
collected, net of refunds.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from faregate.gateway_runtime import PrivateStripeConfig
from gateways.protocol import Gateway
from ticketing.ledger.reports import InvariantReport
from ticketing.money import Money
from ticketing.outbox.file import OUTBOX_FILE, FileOutbox
from ticketing.outbox.messages import Template, render_english
from ticketing.payment_flows.service import PaymentsService
from ticketing.riders import PaymentMode
from ticketing.services.charging import amounts_owed, charge_service_day, reconcile_with_gateway
from ticketing.services.figures import check_ledger
from ticketing.unit_of_work import UnitOfWorkFactory

GOOD_CARD = "pm_card_visa"
DECLINING_CARD = "pm_card_chargeCustomerFail"  # localstripe: attaches, then every charge fails
DEFAULT_TOP_UP = Money(100_000, "VND")


class PayingRider(Protocol):
    """What this stage needs of a rider (the demo's DemoRider has it)."""

    @property
    def account_id(self) -> str: ...

    @property
    def payment_mode(self) -> PaymentMode: ...


@dataclass
class PaymentsStageResult:
    top_ups: int = 0
    topped_up: int = 0
    charges: int = 0
    charged: int = 0
    declined_account: str | None = None
    declined_amount: int = 0
    denied_while_in_debt: bool = False
    debt_cleared_by_retry: bool = False
    declined_rider_told: tuple[str, ...] = ()  # what the outbox holds for them, in English
    rider_told_of_decline_and_payment: bool = False
    refunded: int = 0
    clearing_in_ledger: int = 0
    collected_at_gateway: int = 0
    ledger: InvariantReport | None = None

    @property
    def ok(self) -> bool:
        return (
            self.ledger is not None
            and self.ledger.ok
            and self.clearing_in_ledger == self.collected_at_gateway
            and (self.declined_account is None or self.debt_cleared_by_retry)
        )


@dataclass
class DemoPayments:
    """The gateway and payments service shared by both halves of the stage."""

    gateway: Gateway
    payments: PaymentsService
    outbox: FileOutbox
    result: PaymentsStageResult = field(default_factory=PaymentsStageResult)


@asynccontextmanager
async def demo_payments(
    workdir: Path, uow_factory: UnitOfWorkFactory
) -> AsyncIterator[DemoPayments]:
    """A private localstripe for the run, with our Stripe adapter and payments service on it;
    riders are told through a file outbox in `workdir`."""
    outbox = FileOutbox(workdir / OUTBOX_FILE)
    async with PrivateStripeConfig(from_scratch=True).open(workdir) as runtime:
        payments = PaymentsService(
            uow_factory, runtime.gateway, gateway_name=runtime.name, outbox=outbox
        )
        yield DemoPayments(runtime.gateway, payments, outbox)


async def top_up_wallets(
    demo: DemoPayments,
    console: Console,
    riders: Sequence[PayingRider],
    *,
    request_id: str,
    top_up: Money = DEFAULT_TOP_UP,
) -> None:
    """Every rider saves a card; prepaid riders top up, and one top-up is partly refunded."""
    result = demo.result
    refunded_one = False
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("cards and top-ups", total=len(riders))
        for rider in riders:
            await demo.payments.save_card(rider.account_id, GOOD_CARD)
            if rider.payment_mode is PaymentMode.PREPAID_WALLET:
                outcome = await demo.payments.top_up(
                    rider.account_id, top_up, request_id=request_id
                )
                result.top_ups += 1
                result.topped_up += top_up.amount
                if not refunded_one and outcome.succeeded:
                    refund_amount = top_up.amount // 4
                    await demo.payments.refund(
                        outcome.attempt_id,
                        refund_id=f"demo-refund-{rider.account_id}",
                        amount=refund_amount,
                    )
                    result.refunded += refund_amount
                    refunded_one = True
            progress.advance(task)


PARKING_DAYS_AFTER = 2  # the parking stage's longest stays end two service days later


async def charge_the_day(
    demo: DemoPayments,
    console: Console,
    *,
    uow_factory: UnitOfWorkFactory,
    riders: Sequence[PayingRider],
    service_day: date,
    seed: int = 4,
) -> PaymentsStageResult:
    """One charge per rider who owes for `service_day` (postpaid fares, or what a wallet could
    not cover); the declined card's rider is denied, saves another card, and the retry clears
    the debt. Ends by checking the books against the gateway."""
    result = demo.result
    account_ids = [rider.account_id for rider in riders]
    debtors = sorted(await amounts_owed(uow_factory, account_ids))
    if debtors:
        # One rider's card was replaced overnight by one that the issuer declines.
        unlucky = random.Random(seed).choice(debtors)
        await demo.payments.save_card(unlucky, DECLINING_CARD)
    with console.status("daily charges"):
        charged = await charge_service_day(uow_factory, demo.payments, service_day, account_ids)
        # Each day's charge is that day's only: the long parking stays that end on the days
        # after are charged as those days' parking lines.
        for later in range(1, PARKING_DAYS_AFTER + 1):
            charged += await charge_service_day(
                uow_factory, demo.payments, service_day + timedelta(days=later), account_ids
            )
    for charge in charged:
        if charge.outcome.succeeded:
            result.charges += 1
            result.charged += charge.amount.amount
        else:
            result.declined_account = charge.account_id
            result.declined_amount = charge.amount.amount

    if result.declined_account is not None:
        payments = demo.payments
        result.denied_while_in_debt = (await payments.standing(result.declined_account)).denied
        await payments.save_card(result.declined_account, GOOD_CARD)
        retried = await payments.retry_failed_charges(result.declined_account)
        standing = await payments.standing(result.declined_account)
        result.debt_cleared_by_retry = standing.debt == 0 and all(r.succeeded for r in retried)
        result.charged += sum(r.amount.amount for r in retried)
        told = await demo.outbox.messages(result.declined_account)
        result.declined_rider_told = tuple(render_english(m) for m in told)
        result.rider_told_of_decline_and_payment = [m.template for m in told] == [
            Template.CHARGE_DECLINED,
            Template.DEBT_RECOVERED,
        ]

    reconciliation = await reconcile_with_gateway(uow_factory, demo.payments, demo.gateway)
    result.collected_at_gateway = reconciliation.collected_at_gateway
    result.clearing_in_ledger = reconciliation.clearing_in_ledger
    result.ledger = await check_ledger(uow_factory)
    _print(console, result)
    return result


async def run_payments_stage(
    workdir: Path,
    console: Console,
    *,
    uow_factory: UnitOfWorkFactory,
    riders: Sequence[PayingRider],
    service_day: date,
    top_up: Money = DEFAULT_TOP_UP,
    seed: int = 4,
) -> PaymentsStageResult:
    """Both halves back to back: top-ups first, then `service_day`'s charges."""
    async with demo_payments(workdir, uow_factory) as demo:
        await top_up_wallets(demo, console, riders, request_id=f"demo-{service_day}", top_up=top_up)
        return await charge_the_day(
            demo,
            console,
            uow_factory=uow_factory,
            riders=riders,
            service_day=service_day,
            seed=seed,
        )


def _print(console: Console, result: PaymentsStageResult) -> None:
    table = Table(title="Payments through localstripe", show_header=False)
    table.add_row("wallet top-ups", f"{result.top_ups} · {result.topped_up:,} VND")
    table.add_row("daily charges", f"{result.charges} · {result.charged:,} VND (incl. retry)")
    if result.declined_account is not None:
        table.add_row(
            "declined card",
            f"{result.declined_account}: {result.declined_amount:,} VND, "
            f"denied {'yes' if result.denied_while_in_debt else 'no'}, "
            f"retry cleared debt {'yes' if result.debt_cleared_by_retry else 'no'}",
        )
        for text in result.declined_rider_told:
            table.add_row("told (outbox)", text)
    table.add_row("partial refund", f"{result.refunded:,} VND")
    table.add_row(
        "clearing = gateway",
        f"{result.clearing_in_ledger:,} = {result.collected_at_gateway:,} VND "
        f"{'✓' if result.clearing_in_ledger == result.collected_at_gateway else '✗'}",
    )
    table.add_row("ledger invariants", "ok" if result.ledger and result.ledger.ok else "FAILED")
    console.print(table)
