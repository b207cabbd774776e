"""Use cases of the day's money: what a service day's charge is, charging it, and reconciling
the ledger with the gateway.

A day's charge is what the account's receivable owes when the day is charged: the postpaid
fares of the day, plus whatever a prepaid wallet could not cover (see `ticketing.postings`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from gateways.protocol import Gateway, PaymentStatus
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payment_flows.results import PaymentOutcome
from ticketing.payment_flows.service import PaymentsService
from ticketing.unit_of_work import UnitOfWorkFactory

# Charges in flight at once in the charge stage: enough to keep the gateway busy while each
# charge waits on it (the gateway answers in ~0.5 s under load), few enough to leave the
# database's connection pool to the rest of the app (docs/PERFORMANCE.md, bench/charges.py).
DEFAULT_CONCURRENCY = 16

ChargeProgress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DayCharge:
    account_id: str
    amount: Money
    outcome: PaymentOutcome


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Our gateway clearing account against what the gateway says it collected (net of
    refunds), in minor units of one currency."""

    clearing_in_ledger: int
    collected_at_gateway: int

    @property
    def matches(self) -> bool:
        return self.clearing_in_ledger == self.collected_at_gateway


async def amounts_owed(uows: UnitOfWorkFactory, account_ids: Iterable[str]) -> dict[str, Money]:
    """What each account's receivable owes now, for those that owe anything, in input order."""
    receivables = {account: accounts.receivable(account) for account in account_ids}
    async with uows() as uow:
        states = await uow.ledger.accounts(receivables.values())
    owed: dict[str, Money] = {}
    for account, code in receivables.items():
        state = states.get(code)
        if state is not None and state.normal_balance.amount > 0:
            owed[account] = state.normal_balance
    return owed


async def charges_to_make(uows: UnitOfWorkFactory, day: date) -> dict[str, Money]:
    """The daily charges settling `day` makes: what each account priced on the day owes."""
    async with uows() as uow:
        accounts = await uow.settlement_day.priced_accounts(day)
    return await amounts_owed(uows, accounts)


async def charge_service_day(
    uows: UnitOfWorkFactory,
    payments: PaymentsService,
    day: date,
    account_ids: Iterable[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[DayCharge]:
    """Charge each account that owes anything once for `day` (one aggregated card payment).
    Safe to run again: an account's day is charged at most once."""
    owed = await amounts_owed(uows, account_ids)
    return await charge_owed(payments, day, owed, concurrency=concurrency)


async def charge_owed(
    payments: PaymentsService,
    day: date,
    owed: Mapping[str, Money],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ChargeProgress | None = None,
) -> list[DayCharge]:
    """Charge `day` to each account of `owed`, at most `concurrency` charges in flight, in
    input order. Each charge is its own idempotent attempt (`PaymentsService.charge_day`, keyed
    by account and day), so running this again after a failure charges nobody twice. The first
    failure stops new charges; those in flight finish, then it is raised. `progress` hears the
    count done of the total after each charge."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    items = list(owed.items())
    results: list[DayCharge | None] = [None] * len(items)
    queue = iter(enumerate(items))
    failures: list[BaseException] = []
    done = 0

    async def work() -> None:
        nonlocal done
        for index, (account, amount) in queue:  # shared: each item is taken once
            if failures:
                return
            try:
                outcome = await payments.charge_day(account, day, amount)
            except Exception as error:  # the others finish what they hold, then stop
                failures.append(error)
                return
            results[index] = DayCharge(account, amount, outcome)
            done += 1
            if progress is not None:
                await progress(done, len(items))

    await asyncio.gather(*(work() for _ in range(min(concurrency, len(items)))))
    if failures:
        raise failures[0]
    return [r for r in results if r is not None]


async def reconcile_with_gateway(
    uows: UnitOfWorkFactory, payments: PaymentsService, gateway: Gateway
) -> Reconciliation:
    """Compare the clearing account with every payment the gateway holds for our attempts."""
    collected = 0
    for attempt in await payments.attempts():
        if attempt.gateway_payment_id is not None:
            payment = await gateway.retrieve_payment(attempt.gateway_payment_id)
            if payment.status is PaymentStatus.SUCCEEDED:
                collected += payment.amount - payment.amount_refunded
    async with uows() as uow:
        clearing = await uow.ledger.accounts([payments.clearing_account])
    state = clearing.get(payments.clearing_account)
    return Reconciliation(0 if state is None else state.normal_balance.amount, collected)
