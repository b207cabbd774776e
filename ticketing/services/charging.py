"""Use cases of the day's money: what a service day's charge is, charging it, and reconciling
the ledger with the gateway.

A day's charge is what the account's receivable owes when the day is charged: the postpaid
fares of the day, plus whatever a prepaid wallet could not cover (see `ticketing.postings`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from gateways.protocol import Gateway, PaymentStatus
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payment_flows.results import PaymentOutcome
from ticketing.payment_flows.service import PaymentsService
from ticketing.unit_of_work import UnitOfWorkFactory


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


async def charge_service_day(
    uows: UnitOfWorkFactory,
    payments: PaymentsService,
    day: date,
    account_ids: Iterable[str],
) -> list[DayCharge]:
    """Charge each account that owes anything once for `day` (one aggregated card payment).
    Safe to run again: an account's day is charged at most once."""
    owed = await amounts_owed(uows, account_ids)
    return [
        DayCharge(account, amount, await payments.charge_day(account, day, amount))
        for account, amount in owed.items()
    ]


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
