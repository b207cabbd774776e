"""Refunds of succeeded payments, whole or in part, once per refund id.

A full refund posts the reversal of the payment's posting; a partial one a smaller mirror
(`ticketing.postings`). Like payments, a refund row is stored before the gateway call and moves
forward only, so a lost answer is recovered by asking the gateway on the next call. What a
payment has left to refund is checked with the payment's row locked, so refunds running at
once never add up to more than it (each counts those stored before it, whatever their state).
"""

from __future__ import annotations

from dataclasses import replace

from gateways.errors import GatewayError
from gateways.protocol import Refund
from ticketing.ledger import accounts
from ticketing.ledger.errors import InsufficientFunds
from ticketing.money import Money
from ticketing.payment_flows.attempts import paid_account
from ticketing.payment_flows.results import PaymentsContext, RefundOutcome
from ticketing.payments.errors import AttemptConflict, PaymentInProgress, RefundNotAllowed
from ticketing.payments.model import (
    OPEN_REFUND,
    AttemptStatus,
    PaymentPurpose,
    PaymentRefund,
    RefundRecordStatus,
    refund_after,
)
from ticketing.postings import full_refund, partial_refund
from ticketing.unit_of_work import UnitOfWork, run_in_uow


async def refund(
    ctx: PaymentsContext, attempt_id: str, *, refund_id: str, amount: int | None = None
) -> RefundOutcome:
    """Refund all (`amount` None) or part of a succeeded payment, once per `refund_id`."""
    async with ctx.uows() as uow:
        # The payment's row locked to the end of this transaction: concurrent refunds of one
        # payment check what is left one after the other, each counting those added before
        # it (PostgreSQL reads committed rows without waiting; SQLite's BEGIN IMMEDIATE
        # already serialises the transactions).
        attempt = await uow.payments.locked_attempt(attempt_id)
        if (
            attempt is None
            or attempt.status is not AttemptStatus.SUCCEEDED
            or attempt.gateway_payment_id is None
        ):
            raise RefundNotAllowed(f"payment {attempt_id!r} has not succeeded")
        if await uow.payments.refund(refund_id) is None:
            paid = attempt.amount
            wanted = paid.amount if amount is None else amount
            left = paid.amount - await uow.payments.refunded(attempt_id)
            if wanted <= 0 or wanted > left:
                raise RefundNotAllowed(
                    f"cannot refund {wanted} of payment {attempt_id!r}: {left} {paid.currency} left"
                )
            if attempt.purpose is PaymentPurpose.TOP_UP:
                wallet = await uow.ledger.account(accounts.wallet(attempt.account_id))
                if wallet.available < wanted:
                    raise InsufficientFunds(wallet.code, wallet.available, wanted, wallet.currency)
            await uow.payments.add_refund(
                PaymentRefund(
                    id=refund_id, attempt_id=attempt_id, amount=Money(wanted, paid.currency)
                )
            )
        stored = await uow.payments.refund(refund_id)
        if (
            stored is None
            or stored.attempt_id != attempt_id
            or (amount is not None and stored.amount.amount != amount)
        ):
            raise AttemptConflict(f"refund {refund_id!r} exists with another body")
        if stored.status not in OPEN_REFUND:
            return RefundOutcome.of(stored)
        payment_id, wanted = attempt.gateway_payment_id, stored.amount.amount
        await uow.commit()

    async with ctx.uows() as uow:
        calls = await uow.payments.claim_refund(refund_id, ctx.lease)
        await uow.commit()
    if calls is None:
        raise PaymentInProgress(f"refund {refund_id!r} is being processed elsewhere")
    try:
        found = await ctx.gateway.find_refunds(payment_id, refund_id) if calls > 1 else []
        done = (
            found[0]
            if found
            else await ctx.gateway.refund(payment_id, amount=wanted, idempotency_key=refund_id)
        )
    except GatewayError:
        async with ctx.uows() as uow:
            await uow.payments.release_refund(refund_id)
            await uow.commit()
        raise
    return await _record_refund(ctx, refund_id, done)


async def _record_refund(ctx: PaymentsContext, refund_id: str, done: Refund) -> RefundOutcome:
    async def apply(uow: UnitOfWork) -> RefundOutcome:
        stored = await uow.payments.locked_refund(refund_id)
        if stored is None:
            raise AttemptConflict(f"no refund {refund_id!r}")
        answered = refund_after(stored, done)
        if answered != stored:
            if answered.status is RefundRecordStatus.SUCCEEDED:
                answered = replace(
                    answered, posting_id=await _post_refund(ctx, uow, answered, done)
                )
            await uow.payments.save_refund(answered)
        return RefundOutcome.of(answered)

    return await run_in_uow(ctx.uows, apply)


async def _post_refund(
    ctx: PaymentsContext, uow: UnitOfWork, refund: PaymentRefund, done: Refund
) -> str:
    attempt = await uow.payments.attempt(refund.attempt_id)
    if attempt is None or attempt.posting_id is None:
        raise RefundNotAllowed(f"payment {refund.attempt_id!r} has no posting to refund")
    if refund.amount == attempt.amount:
        original = await uow.ledger.get_posting(attempt.posting_id)
        posting = full_refund(original, refund.id, done.id, done.created)
        await uow.ledger.post_reversal(posting, original)
        return posting.id
    posting = partial_refund(
        attempt.posting_id,
        refund.id,
        clearing=ctx.clearing,
        paid_account=paid_account(attempt.purpose, attempt.account_id),
        amount=refund.amount,
        gateway_refund_id=done.id,
        at=done.created,
    )
    await uow.ledger.post(posting)
    return posting.id
