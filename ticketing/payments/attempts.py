"""Payment attempts: the one pattern every payment follows.

A gateway call can end without us knowing what the gateway did (timeout, 5xx, lost answer)
and localstripe ignores idempotency keys, so:

1. store an attempt row under our idempotency key and commit, before any call;
2. claim it (a short lease, so two workers never call for one attempt at once) and count the
   call; if an earlier call was made, first ask the gateway what it has under our key;
3. create the payment only if the gateway has none, then record the outcome and post to the
   ledger in one transaction. The row's status only moves forward (pending/unknown → final),
   so the call's answer, a retry and a webhook can arrive in any order and post once.

A daily charge is only authorised (manual capture). A request held in the network past our
timeout can reach the gateway after the retry made its own payment; so the one authorisation
the attempt row records ("the ledger knows") is the only one ever captured, and any other
authorisation carrying the same charge key is cancelled (or refunded if it was captured
anyway) and reported as a duplicate (`ticketing.payments.duplicates`).
"""

from __future__ import annotations

from gateways.errors import CardDeclined, GatewayError
from gateways.protocol import CHARGE_KEY_METADATA_KEY, Payment, PaymentRequest, PaymentStatus
from ticketing.db.payments_models import AttemptStatus, PaymentAttemptRow, PaymentPurpose
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.outbox import announcements
from ticketing.outbox.messages import Message
from ticketing.payments.debt import pay_debt_from_wallet, refresh_standing
from ticketing.payments.duplicates import void_unrecorded
from ticketing.payments.errors import (
    AttemptConflict,
    GatewayMismatch,
    NoSavedCard,
    PaymentInProgress,
)
from ticketing.payments.results import PaymentOutcome, PaymentsContext
from ticketing.postings import payment_received
from ticketing.stores.payments import NewAttempt, SavedCard
from ticketing.unit_of_work import UnitOfWork, run_in_uow


def paid_account(purpose: PaymentPurpose, account_id: str) -> str:
    """The ledger account a payment credits (and its refund debits): the wallet for a top-up,
    the receivable for a daily charge."""
    if purpose is PaymentPurpose.TOP_UP:
        return accounts.wallet(account_id)
    return accounts.receivable(account_id)


async def saved_card(uow: UnitOfWork, account_id: str) -> SavedCard:
    card = await uow.payments.saved_card(account_id)
    if card is None:
        raise NoSavedCard(f"account {account_id!r} has no saved card")
    return card


async def pay(ctx: PaymentsContext, new: NewAttempt, *, off_session: bool = True) -> PaymentOutcome:
    """Ask the gateway for a payment once per attempt id (see the module docstring)."""
    if new.amount.amount <= 0:
        raise AttemptConflict(f"payment amount must be positive, not {new.amount}")
    async with ctx.uows() as uow:
        card = await saved_card(uow, new.account_id)
        row = await uow.payments.add_attempt(new)
        if (row.account_id, row.amount, row.currency, row.purpose) != (
            new.account_id,
            new.amount.amount,
            new.amount.currency,
            new.purpose,
        ):
            raise AttemptConflict(f"payment {new.id!r} exists with another body")
        if row.status.is_final:
            return PaymentOutcome.of(row)
        known = row.gateway_payment_id
        await uow.commit()

    async with ctx.uows() as uow:
        calls = await uow.payments.claim_attempt(new.id, ctx.lease)
        await uow.commit()
    if calls is None:
        raise PaymentInProgress(f"payment {new.id!r} is being processed elsewhere")
    try:
        if new.purpose is PaymentPurpose.DAILY_CHARGE:
            payment = await _authorise_and_capture(ctx, new, calls, card, known)
        else:
            payment = await _reconcile_or_create(ctx, new, calls, card, off_session)
    except CardDeclined as declined:
        return await record(ctx, new.id, None, declined)
    except GatewayError:
        async with ctx.uows() as uow:
            await uow.payments.release_attempt(new.id)
            await uow.commit()
        raise
    return await record(ctx, new.id, payment, None)


async def _authorise_and_capture(
    ctx: PaymentsContext, new: NewAttempt, calls: int, card: SavedCard, known: str | None
) -> Payment:
    """A daily charge: find or make the authorisation, record it on the attempt, capture only
    that one, then (if an answer was ever lost) void the charge key's other authorisations."""
    if known is not None:
        payment = await ctx.gateway.retrieve_payment(known)
    else:
        payment = await _reconcile_or_create(ctx, new, calls, card, True, capture_manually=True)
    payment = await capture_recorded(ctx, new.id, payment)
    if calls > 1 and new.charge_key is not None:
        await void_unrecorded(ctx, new.charge_key, keep=payment.id)
    return payment


async def capture_recorded(ctx: PaymentsContext, attempt_id: str, payment: Payment) -> Payment:
    """Given an authorisation of a daily-charge attempt (our call's answer, a lookup or a
    webhook), capture the one the attempt records, recording this one first if it names none."""
    if payment.status is not PaymentStatus.REQUIRES_CAPTURE:
        return payment
    payment = await _note_authorisation(ctx, attempt_id, payment)
    if payment.status is not PaymentStatus.REQUIRES_CAPTURE:
        return payment
    return await ctx.gateway.capture_payment(payment.id, idempotency_key=f"capture:{attempt_id}")


async def _note_authorisation(ctx: PaymentsContext, attempt_id: str, payment: Payment) -> Payment:
    """Record the authorisation on the attempt before capturing it: from then on it is the
    only one of this attempt ever captured. If the row already names another one (a webhook
    recorded a late request's authorisation first), that one is kept and ours is voided."""

    async def note(uow: UnitOfWork) -> str | None:
        row = await uow.payments.locked_attempt(attempt_id)
        if row is None:
            raise AttemptConflict(f"no payment attempt {attempt_id!r}")
        if row.gateway_payment_id is None:
            row.gateway_payment_id = payment.id
            row.updated_at = ctx.now()
        return row.gateway_payment_id

    recorded = await run_in_uow(ctx.uows, note)
    if recorded is None or recorded == payment.id:
        return payment
    await ctx.gateway.cancel_payment(payment.id, idempotency_key=f"void:{payment.id}")
    return await ctx.gateway.retrieve_payment(recorded)


async def _reconcile_or_create(
    ctx: PaymentsContext,
    new: NewAttempt,
    calls: int,
    card: SavedCard,
    off_session: bool,
    *,
    capture_manually: bool = False,
) -> Payment:
    if calls > 1:
        found = await ctx.gateway.find_payments(new.id)
        if found:
            succeeded = [p for p in found if p.status is PaymentStatus.SUCCEEDED]
            authorised = [p for p in found if p.status is PaymentStatus.REQUIRES_CAPTURE]
            return (succeeded or authorised or found)[-1]
    metadata = {"purpose": new.purpose.value}
    if new.service_day is not None:
        metadata["service_day"] = new.service_day.isoformat()
    if new.charge_key is not None:
        metadata[CHARGE_KEY_METADATA_KEY] = new.charge_key
    return await ctx.gateway.create_payment(
        PaymentRequest(
            customer_id=card.customer_id,
            payment_method_id=card.payment_method_id,
            amount=new.amount.amount,
            currency=new.amount.currency,
            idempotency_key=new.id,
            metadata=metadata,
            off_session=off_session,
            capture_manually=capture_manually,
        )
    )


async def record(
    ctx: PaymentsContext,
    attempt_id: str,
    payment: Payment | None,
    declined: CardDeclined | None,
) -> PaymentOutcome:
    """Apply what the gateway said to the attempt, forward only, posting at most once (in one
    transaction, run again if the database aborts it for a deadlock); then tell the rider
    what it decided (a declined day, a debt paid, a low wallet)."""
    told: list[Message] = []

    async def apply(uow: UnitOfWork) -> PaymentOutcome:
        told.clear()  # a transaction run again decides again
        row = await uow.payments.locked_attempt(attempt_id)
        if row is None:
            raise AttemptConflict(f"no payment attempt {attempt_id!r}")
        if not row.status.is_final:
            await _apply(ctx, uow, row, payment, declined, told)
        return PaymentOutcome.of(row)

    outcome = await run_in_uow(ctx.uows, apply)
    await ctx.announce(told)
    return outcome


async def _apply(
    ctx: PaymentsContext,
    uow: UnitOfWork,
    row: PaymentAttemptRow,
    payment: Payment | None,
    declined: CardDeclined | None,
    told: list[Message],
) -> None:
    if (
        payment is not None
        and row.purpose is PaymentPurpose.DAILY_CHARGE
        and row.gateway_payment_id not in (None, payment.id)
    ):
        return  # another authorisation of this attempt is the one it keeps: a duplicate
    now = ctx.now()
    row.updated_at = now
    row.claimed_until = None
    if payment is not None:
        if (payment.amount, payment.currency) != (row.amount, row.currency):
            raise GatewayMismatch(
                f"gateway payment {payment.id} is {payment.amount} {payment.currency}, "
                f"attempt {row.id} asked {row.amount} {row.currency}"
            )
        row.gateway_payment_id = payment.id
    if declined is not None:
        row.status = AttemptStatus.FAILED
        row.decline_code = declined.decline_code or declined.code
        row.gateway_payment_id = row.gateway_payment_id or declined.payment_id
    elif payment is not None and payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        row.status = AttemptStatus.FAILED
        row.decline_code = payment.decline_code or payment.status.value
    elif payment is None or payment.status is not PaymentStatus.SUCCEEDED:
        row.status = AttemptStatus.UNKNOWN  # still processing at the gateway
        return
    else:
        await _post_payment(ctx, uow, row, payment, told)
        return
    await uow.flush()
    if row.purpose is PaymentPurpose.DAILY_CHARGE:
        await refresh_standing(ctx, uow, row.account_id)
        if row.service_day is not None:
            amount = Money(row.amount, row.currency)
            told.append(
                announcements.charge_declined(row.account_id, row.service_day, amount, at=now)
            )


async def _post_payment(
    ctx: PaymentsContext,
    uow: UnitOfWork,
    row: PaymentAttemptRow,
    payment: Payment,
    told: list[Message],
) -> None:
    posting = payment_received(
        row.id,
        clearing=ctx.clearing,
        paid_account=paid_account(row.purpose, row.account_id),
        account_id=row.account_id,
        amount=Money(row.amount, row.currency),
        gateway_payment_id=payment.id,
        purpose=row.purpose.value,
        at=payment.created,
    )
    await uow.ledger.post(posting)
    row.status = AttemptStatus.SUCCEEDED
    row.posting_id = posting.id
    row.decline_code = None
    await uow.flush()
    now = ctx.now()
    if row.purpose is PaymentPurpose.DAILY_CHARGE and row.charge_key is not None:
        await uow.payments.mark_recovered(row.charge_key)
        if row.id != row.charge_key and row.service_day is not None:  # a retry: debt paid
            told.append(
                announcements.debt_recovered(
                    row.account_id, row.service_day, Money(row.amount, row.currency),
                    announcements.PaidBy.CARD, at=now,
                )
            )  # fmt: skip
    else:
        for owed in await pay_debt_from_wallet(ctx, uow, row.account_id, row.currency):
            if owed.service_day is not None:
                told.append(
                    announcements.debt_recovered(
                        owed.account_id, owed.service_day, Money(owed.amount, owed.currency),
                        announcements.PaidBy.WALLET, at=now,
                    )
                )  # fmt: skip
        wallet = await uow.ledger.balance(accounts.wallet(row.account_id))
        low = announcements.low_balance(
            row.account_id, wallet, ctx.low_balance, because=posting.id, at=now
        )
        told.extend([low] if low is not None else [])
    await refresh_standing(ctx, uow, row.account_id)
