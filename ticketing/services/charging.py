"""Use cases of the day's money: what a service day's charge is, charging it, and reconciling
the ledger with the gateway.

A day's charge is exactly that day's fares: the part of the day's fare posting the account's
receivable pays (all of a postpaid rider's fares; what a prepaid wallet could not cover, see
`ticketing.postings`), at the version the day settles at. A later day's fares, a pass (paid at
purchase) and a parking debt are never folded into it. It is never more than the receivable
owes when it is charged (a day whose debt a top-up already paid is not charged again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from gateways.protocol import Gateway, PaymentStatus
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payment_flows.results import PaymentOutcome
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.errors import NoSavedCard
from ticketing.payments.model import (
    OPEN_REFUND,
    AttemptStatus,
    PaymentAttempt,
    adjustment_charge_key,
    daily_charge_key,
    parking_charge_key,
)
from ticketing.settlement.calendar import day_window
from ticketing.settlement.compute import Adjustment
from ticketing.unit_of_work import UnitOfWorkFactory

# Charges in flight at once in the charge stage. They share their transactions (the charges
# waiting at a step commit together: `PaymentsService.batch`), so more in flight means fewer
# transactions and statements per charge (on PostgreSQL, 150 charges: 16 in flight made 3.8
# statements and 0.75 commits per charge, 32 made 2.5 and 0.49, 48 made 1.8 and 0.39) and never
# more than about one connection per step. What bounds it is the gateway: each charge makes two
# calls (authorise, capture) of ~0.5 s, so 32 in flight ask about 64 calls a second, under
# Stripe's default live limit of 100 a second with room for the app's own traffic (top-ups,
# webhooks' look-ups). docs/PERFORMANCE.md "charges", bench/charges.py.
DEFAULT_CONCURRENCY = 32

ChargeProgress = Callable[[int, int], Awaitable[None]]

# The gateway's clock is its own (ours may be simulated): the listing is of everything it holds.
_EVER = datetime(1970, 1, 1, tzinfo=UTC)


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


async def charges_to_make(
    uows: UnitOfWorkFactory, day: date, account_ids: Iterable[str] | None = None
) -> dict[str, Money]:
    """The daily charges settling `day` makes (see the module docstring): per account (of
    `account_ids`, else every one with fares on its receivable), exactly its fares of the day,
    never more than its receivable owes once the refunds of this run's lowered days are made
    (`refunds_to_make`: the credit they give back is not the day's to keep); a charge asked
    before and still open is asked again for the same amount, one answered (paid or declined:
    debt recovery retries it) is not."""
    async with uows() as uow:
        reads = uow.settlement_day
        fares = await reads.receivable_fares(day, account_ids)
        asked = await reads.day_charges(day)
        pending = await reads.day_charges(day, open_only=True)
        adjustments = await uow.settlement.adjustments_of(day)
    owed = await amounts_owed(uows, fares)
    refunding: dict[str, int] = {}
    for refund in await refunds_to_make(uows, adjustments):
        refunding[refund.account_id] = refunding.get(refund.account_id, 0) + refund.amount.amount
    to_make: dict[str, Money] = {}
    for account, day_fares in fares.items():
        if account in pending:  # asked before, its outcome unknown: the same charge resumed
            to_make[account] = Money(pending[account], day_fares.currency)
        elif account not in asked:
            left = (owed[account].amount if account in owed else 0) + refunding.get(account, 0)
            amount = min(day_fares.amount, left)
            if amount > 0:
                to_make[account] = Money(amount, day_fares.currency)
    return to_make


@dataclass(frozen=True, slots=True)
class AdjustmentRefund:
    """Part of a charged day's collected charge given back because later taps lowered the
    day's fares, named as that day's adjustment (`{adjustment charge key}:refund`)."""

    account_id: str
    attempt_id: str
    refund_id: str
    amount: Money


async def refunds_to_make(
    uows: UnitOfWorkFactory, adjustments: Iterable[Adjustment]
) -> list[AdjustmentRefund]:
    """The refunds of settled account-days whose later version lowers what the receivable
    pays (a late exit tap completing a journey, a cap reached): the receivable was credited
    the difference when the day was priced again, so the day's card charges took that much
    too much. It goes back to the card from the day's collected charges (its fares line or its
    adjustment lines, the latest with enough left), never more than they collected beyond the
    day's new fares: a day not collected simply owes less. A refund asked before and still
    open is resumed; one answered is not asked again."""
    refunds: list[AdjustmentRefund] = []
    async with uows() as uow:
        reads = uow.settlement_day
        for item in adjustments:  # a higher total may still lower the receivable's part
            now_part = await reads.receivable_part(item.account_id, item.original_day, item.version)
            less = (
                await reads.receivable_part(
                    item.account_id, item.original_day, item.previous_version
                )
                - now_part
            )
            if less <= 0:
                continue
            key = adjustment_charge_key(item.account_id, item.original_day, item.version)
            refund_id = f"{key}:refund"
            stored = await uow.payments.refund(refund_id)
            if stored is not None:
                if stored.status in OPEN_REFUND:
                    refunds.append(
                        AdjustmentRefund(
                            item.account_id, stored.attempt_id, refund_id, stored.amount
                        )
                    )
                continue
            day_key = daily_charge_key(item.account_id, item.original_day)
            paid: list[tuple[PaymentAttempt, int]] = []
            for attempt in await uow.payments.attempts(item.account_id):
                if (
                    attempt.charge_key is not None
                    and attempt.status is AttemptStatus.SUCCEEDED
                    and attempt.gateway_payment_id is not None
                    and (
                        attempt.charge_key == day_key
                        or attempt.charge_key.startswith(f"{day_key}:adjustment-")
                    )
                ):
                    left = attempt.amount.amount - await uow.payments.refunded(attempt.id)
                    paid.append((attempt, left))
            due = min(less, sum(left for _, left in paid) - now_part)
            for attempt, left in sorted(paid, key=lambda p: p[0].created_at, reverse=True):
                if 0 < due <= left:
                    money = Money(due, item.currency)
                    refunds.append(AdjustmentRefund(item.account_id, attempt.id, refund_id, money))
                    break
    return refunds


async def refund_lowered_days(
    uows: UnitOfWorkFactory, payments: PaymentsService, adjustments: Iterable[Adjustment]
) -> list[AdjustmentRefund]:
    """Make `refunds_to_make` (each once per refund id; safe to run again)."""
    refunds = await refunds_to_make(uows, adjustments)
    for refund in refunds:
        await payments.refund(
            refund.attempt_id, refund_id=refund.refund_id, amount=refund.amount.amount
        )
    return refunds


async def charge_service_day(
    uows: UnitOfWorkFactory,
    payments: PaymentsService,
    day: date,
    account_ids: Iterable[str] | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[DayCharge]:
    """Charge each account its fares of `day` once (`charges_to_make`), then, each on a line of
    its own, its parking fees and debts of the day on the receivable (`charge_parking`). Safe
    to run again: each line is charged at most once."""
    owed = await charges_to_make(uows, day, account_ids)
    charged = await charge_owed(payments, day, owed, concurrency=concurrency)
    return charged + await charge_parking(uows, payments, day, account_ids)


async def charge_parking(
    uows: UnitOfWorkFactory,
    payments: PaymentsService,
    day: date,
    account_ids: Iterable[str] | None = None,
) -> list[DayCharge]:
    """Charge the parking fees and parking debts of `day` on each postpaid receivable, a line
    of its own (`charge:{account}:{day}:parking`), never more than the receivable owes once the
    day's fares are charged; a rider who only parked is charged too. Safe to run again."""
    start, end = day_window(day)
    async with uows() as uow:
        reads = uow.settlement_day
        parking = await reads.parking_receivable(start, end)
        parked = await reads.day_charges(day, key=parking_charge_key)
        parked_open = await reads.day_charges(day, key=parking_charge_key, open_only=True)
    if account_ids is not None:
        wanted = set(account_ids)
        parking = {a: m for a, m in parking.items() if a in wanted}
    owed = await amounts_owed(uows, parking)
    charged = []
    for account, fees in parking.items():
        if account in parked_open:  # asked before, its outcome unknown: resumed
            due = parked_open[account]
        elif account in parked:
            continue
        else:
            due = min(fees.amount, owed[account].amount if account in owed else 0)
        if due > 0:
            money = Money(due, fees.currency)
            outcome = await _charged(payments.charge_parking(account, day, money))
            if outcome is not None:
                charged.append(DayCharge(account, money, outcome))
    return charged


async def _charged(charge: Awaitable[PaymentOutcome]) -> PaymentOutcome | None:
    """The charge's outcome; None for an account with no card to charge (a prepaid rider whose
    wallet ran short): its line stays owed on the receivable, held as uncollected by the
    apportion stage like a declined one, never a failed run for everyone."""
    try:
        return await charge
    except NoSavedCard:
        return None


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
    by account and day), so running this again after a failure charges nobody twice; the
    charges in flight share their transactions (`PaymentsService.batch`). The first failure
    stops new charges; those in flight finish, then it is raised. `progress` hears the count
    done of the total after each charge."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    batch = payments.batch()
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
                outcome = await _charged(batch.charge_day(account, day, amount))
            except Exception as error:  # the others finish what they hold, then stop
                failures.append(error)
                return
            if outcome is not None:
                results[index] = DayCharge(account, amount, outcome)
            done += 1
            if progress is not None:
                await progress(done, len(items))

    await asyncio.gather(*(work() for _ in range(min(concurrency, len(items)))))
    if failures:
        raise failures[0]
    return [r for r in results if r is not None]


async def charge_adjustments(
    uows: UnitOfWorkFactory, payments: PaymentsService, adjustments: Iterable[Adjustment]
) -> list[DayCharge]:
    """Charge the later taps of already settled days, each as its day's adjustment: what the
    receivable pays of the new version less what it paid of the settled one (when more), never
    more than it owes. Safe to run again (one charge key per account-day version)."""
    extra: list[tuple[Adjustment, int]] = []
    async with uows() as uow:
        reads = uow.settlement_day
        for item in adjustments:
            if item.amount > 0:
                more = await reads.receivable_part(
                    item.account_id, item.original_day, item.version
                ) - await reads.receivable_part(
                    item.account_id, item.original_day, item.previous_version
                )
                if more > 0:
                    extra.append((item, more))
    owed = await amounts_owed(uows, {item.account_id for item, _ in extra})
    charged = []
    for item, more in extra:
        left = owed.get(item.account_id)
        amount = min(more, 0 if left is None else left.amount)
        if amount <= 0:
            continue
        money = Money(amount, item.currency)
        outcome = await _charged(
            payments.charge_adjustment(item.account_id, item.original_day, item.version, money)
        )
        if outcome is None:
            continue
        owed[item.account_id] = Money((left.amount if left else 0) - amount, item.currency)
        charged.append(DayCharge(item.account_id, money, outcome))
    return charged


async def reconcile_with_gateway(
    uows: UnitOfWorkFactory, payments: PaymentsService, gateway: Gateway
) -> Reconciliation:
    """Compare the clearing account with every payment the gateway holds for our attempts:
    read in one listing of the gateway's payments (one retrieval per payment cost a request
    each: a city day's closing figures made tens of thousands), each missing from it retrieved."""
    ids = {a.gateway_payment_id for a in await payments.attempts() if a.gateway_payment_id}
    held = {p.id: p for p in await gateway.list_payments(_EVER, None) if p.id in ids}
    collected = 0
    for payment_id in sorted(ids):
        payment = held.get(payment_id) or await gateway.retrieve_payment(payment_id)
        if payment.status is PaymentStatus.SUCCEEDED:
            collected += payment.amount - payment.amount_refunded
    async with uows() as uow:
        clearing = await uow.ledger.accounts([payments.clearing_account])
    state = clearing.get(payments.clearing_account)
    return Reconciliation(0 if state is None else state.normal_balance.amount, collected)
