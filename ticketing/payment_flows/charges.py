"""Customers, cards and charges: a wallet top-up, a service day's charge and its adjustments,
a pass paid at purchase, retries of declined days. Each payment follows
`ticketing.payment_flows.attempts`."""

from __future__ import annotations

from datetime import date

from ticketing.money import Money
from ticketing.payment_flows.attempts import Books, pay
from ticketing.payment_flows.debt import owed_charges
from ticketing.payment_flows.results import PaymentOutcome, PaymentsContext
from ticketing.payments.errors import NoWallet
from ticketing.payments.model import (
    PaymentAttempt,
    PaymentPurpose,
    adjustment_charge_key,
    daily_charge_key,
    parking_charge_key,
    pass_purchase_key,
)
from ticketing.riders import PaymentMode


def top_up_key(account_id: str, request_id: str) -> str:
    return f"topup:{account_id}:{request_id}"


async def ensure_customer(
    ctx: PaymentsContext, account_id: str, *, email: str | None = None
) -> str:
    """The gateway customer id of the account, created once (looked up after a failure)."""
    async with ctx.uows() as uow:
        first_try, known = await uow.payments.add_customer(account_id)
        await uow.commit()
    if known is not None:
        return known
    found = None if first_try else await ctx.gateway.find_customer(account_id)
    customer = found or await ctx.gateway.create_customer(
        account_id, idempotency_key=f"customer:{account_id}", email=email
    )
    async with ctx.uows() as uow:
        await uow.payments.set_customer(account_id, customer.id)
        await uow.commit()
    return customer.id


async def save_card(ctx: PaymentsContext, account_id: str, payment_method: str) -> str:
    """Attach a tokenised card and make it the one charged; raises CardDeclined."""
    customer_id = await ensure_customer(ctx, account_id)
    card = await ctx.gateway.save_card(
        customer_id, payment_method, idempotency_key=f"card:{account_id}:{payment_method}"
    )
    async with ctx.uows() as uow:
        await uow.payments.set_card(account_id, card.id, card.last4)
        await uow.commit()
    return card.id


async def top_up(
    ctx: PaymentsContext, account_id: str, amount: Money, *, request_id: str
) -> PaymentOutcome:
    """Charge the saved card and credit the wallet; nothing is posted if it fails. A postpaid
    rider has no wallet to top up (NoWallet)."""
    async with ctx.uows() as uow:
        account = await uow.riders.find_account(account_id)
    if account is not None and account.payment_mode is not PaymentMode.PREPAID_WALLET:
        raise NoWallet(f"account {account_id!r} is postpaid: it has no wallet to top up")
    now = ctx.now()
    attempt = PaymentAttempt(
        id=top_up_key(account_id, request_id),
        purpose=PaymentPurpose.TOP_UP,
        account_id=account_id,
        amount=amount,
        created_at=now,
        updated_at=now,
    )
    return await pay(ctx, attempt, off_session=False)


async def charge_day(
    ctx: PaymentsContext, account_id: str, day: date, amount: Money, *, books: Books | None = None
) -> PaymentOutcome:
    """The one aggregated charge of a postpaid account's service day.

    Safe to call again after any failure: it reconciles with the gateway instead of charging
    twice. Raises a GatewayOutcomeUnknown if the gateway cannot be reached; the attempt then
    waits, status `unknown`, for the next call (or a webhook). `books`: the transactions it
    shares with other charges in flight (`ticketing.payment_flows.batch`), else its own.
    """
    return await _charge_line(
        ctx, daily_charge_key(account_id, day), account_id, day, amount, books
    )


async def charge_adjustment(
    ctx: PaymentsContext, account_id: str, day: date, version: int, amount: Money
) -> PaymentOutcome:
    """The charge of `day`'s later taps (its version `version` less what the day was charged),
    named as that day's adjustment; safe to call again like `charge_day`."""
    return await _charge_line(
        ctx, adjustment_charge_key(account_id, day, version), account_id, day, amount
    )


async def charge_parking(
    ctx: PaymentsContext, account_id: str, day: date, amount: Money
) -> PaymentOutcome:
    """The charge of `day`'s parking fees and debts on the receivable, a line of its own."""
    return await _charge_line(ctx, parking_charge_key(account_id, day), account_id, day, amount)


async def _charge_line(
    ctx: PaymentsContext,
    key: str,
    account_id: str,
    day: date,
    amount: Money,
    books: Books | None = None,
) -> PaymentOutcome:
    now = ctx.now()
    return await pay(
        ctx,
        PaymentAttempt(
            id=key,
            purpose=PaymentPurpose.DAILY_CHARGE,
            account_id=account_id,
            amount=amount,
            created_at=now,
            updated_at=now,
            service_day=day,
            charge_key=key,
        ),
        books=books,
    )


async def pay_for_pass(
    ctx: PaymentsContext, account_id: str, pass_id: str, amount: Money
) -> PaymentOutcome:
    """A postpaid rider's pass, paid by card at purchase (the payment credits the receivable
    the sale debits, so the pass is never folded into a day's charge)."""
    now = ctx.now()
    return await pay(
        ctx,
        PaymentAttempt(
            id=pass_purchase_key(pass_id),
            purpose=PaymentPurpose.PASS_PURCHASE,
            account_id=account_id,
            amount=amount,
            created_at=now,
            updated_at=now,
        ),
        off_session=False,
    )


async def retry_failed_charges(ctx: PaymentsContext, account_id: str) -> list[PaymentOutcome]:
    """Charge again every declined day of the account (a new attempt each)."""
    async with ctx.uows() as uow:
        owed = await owed_charges(uow, account_id)
        count = await uow.payments.attempts_per_charge([r.charge_key for r in owed if r.charge_key])
        now = ctx.now()
        retries = [
            PaymentAttempt(
                id=f"{r.charge_key}:retry-{count[r.charge_key]}",
                purpose=PaymentPurpose.DAILY_CHARGE,
                account_id=account_id,
                amount=r.amount,
                created_at=now,
                updated_at=now,
                service_day=r.service_day,
                charge_key=r.charge_key,
            )
            for r in owed
            if r.charge_key is not None
        ]
    return [await pay(ctx, attempt) for attempt in retries]
