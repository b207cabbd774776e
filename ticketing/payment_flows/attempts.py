"""Payment attempts: the one pattern every payment follows.

A gateway call can end without us knowing what the gateway did (timeout, 5xx, lost answer)
and localstripe ignores idempotency keys, so:

1. store an attempt row under our idempotency key and claim it (a short lease, so two workers
   never call for one attempt at once, counting the call), and commit, before any call;
2. if an earlier call was made, first ask the gateway what it has under our key;
3. create the payment only if the gateway has none, then record the outcome and post to the
   ledger in one transaction. The attempt only moves forward (`ticketing.payments.model`:
   `answer` reads the gateway's answer, `advance` applies it), so the call's answer, a retry
   and a webhook can arrive in any order and post once.

A daily charge is only authorised (manual capture). A request held in the network past our
timeout can reach the gateway after the retry made its own payment; so the one authorisation
the attempt row records ("the ledger knows") is the only one ever captured, and any other
authorisation carrying the same charge key is cancelled (or refunded if it was captured
anyway) and reported as a duplicate (`ticketing.payment_flows.duplicates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateways.errors import CardDeclined, GatewayError
from gateways.protocol import CHARGE_KEY_METADATA_KEY, Payment, PaymentRequest, PaymentStatus
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.outbox import announcements
from ticketing.outbox.messages import Message
from ticketing.payment_flows.debt import pay_debt_from_wallet, recover_charge, refresh_standing
from ticketing.payment_flows.duplicates import void_unrecorded
from ticketing.payment_flows.results import PaymentOutcome, PaymentsContext
from ticketing.payments.errors import AttemptConflict, NoSavedCard, PaymentInProgress
from ticketing.payments.model import (
    Authorised,
    Paid,
    PaymentAttempt,
    PaymentPurpose,
    Unanswered,
    advance,
    answer,
)
from ticketing.postings import payment_posting_id, payment_received
from ticketing.stores.payments import SavedCard
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


@dataclass(frozen=True, slots=True)
class Claim:
    """An open attempt claimed for a gateway call: the card it charges, the calls counted
    (this one included) and the authorisation it recorded before, if any."""

    card: SavedCard
    calls: int
    known: str | None


class Books(Protocol):
    """The transactions around a payment's gateway calls (see the module docstring): each
    payment's own (`OneByOne`), or shared by the payments of a batch waiting at the same
    moment (`ticketing.payment_flows.batch`)."""

    async def claim(self, new: PaymentAttempt) -> PaymentOutcome | Claim:
        """Step 1: the attempt stored and claimed (committed), or its outcome if final."""
        ...

    async def note(self, attempt_id: str, payment_id: str) -> PaymentAttempt:
        """A daily charge's authorisation recorded (committed) before it is captured."""
        ...

    async def record(
        self, attempt_id: str, payment: Payment | None, declined: CardDeclined | None
    ) -> PaymentOutcome:
        """Step 3: the gateway's answer applied and posted (`record`)."""
        ...


@dataclass(frozen=True, slots=True)
class OneByOne:
    """Each payment in transactions of its own."""

    ctx: PaymentsContext

    async def claim(self, new: PaymentAttempt) -> PaymentOutcome | Claim:
        async with self.ctx.uows() as uow:
            card = await saved_card(uow, new.account_id)
            # Stored and claimed in one transaction (one round of BEGIN/COMMIT less per
            # charge): both are committed before any call, which is all step 1 asks. A new
            # attempt is claimed as it is stored; one stored before, here.
            stored, claimed = await uow.payments.add_attempts([new], self.ctx.lease)
            settled = settled_outcome(new, stored[new.id])
            if settled is not None:
                return settled
            if new.id in claimed:
                calls: int | None = 1
            else:
                calls = await uow.payments.claim_attempt(new.id, self.ctx.lease)
            await uow.commit()
        return claim_of(new, card, calls, stored[new.id].gateway_payment_id)

    async def note(self, attempt_id: str, payment_id: str) -> PaymentAttempt:
        return await _move(self.ctx, attempt_id, Authorised(payment_id), release=False)

    async def record(
        self, attempt_id: str, payment: Payment | None, declined: CardDeclined | None
    ) -> PaymentOutcome:
        return await record(self.ctx, attempt_id, payment, declined)


def settled_outcome(new: PaymentAttempt, stored: PaymentAttempt) -> PaymentOutcome | None:
    """The outcome of an attempt stored before and final already; None if it is open.
    Raises AttemptConflict if the id was stored with another body."""
    if (stored.account_id, stored.amount, stored.purpose) != (
        new.account_id,
        new.amount,
        new.purpose,
    ):
        raise AttemptConflict(f"payment {new.id!r} exists with another body")
    return PaymentOutcome.of(stored) if stored.status.is_final else None


def claim_of(new: PaymentAttempt, card: SavedCard, calls: int | None, known: str | None) -> Claim:
    """The claim taken on `new`; PaymentInProgress if another worker holds it (`calls` None)."""
    if calls is None:
        raise PaymentInProgress(f"payment {new.id!r} is being processed elsewhere")
    return Claim(card, calls, known)


async def pay(
    ctx: PaymentsContext,
    new: PaymentAttempt,
    *,
    off_session: bool = True,
    books: Books | None = None,
) -> PaymentOutcome:
    """Ask the gateway for a payment once per attempt id (see the module docstring)."""
    if new.amount.amount <= 0:
        raise AttemptConflict(f"payment amount must be positive, not {new.amount}")
    books = books or OneByOne(ctx)
    claim = await books.claim(new)
    if isinstance(claim, PaymentOutcome):
        return claim
    try:
        if new.purpose is PaymentPurpose.DAILY_CHARGE:
            payment = await _authorise_and_capture(ctx, books, new, claim)
        else:
            payment = await _reconcile_or_create(ctx, new, claim.calls, claim.card, off_session)
    except CardDeclined as declined:
        return await books.record(new.id, None, declined)
    except GatewayError:
        await _move(ctx, new.id, Unanswered(), release=True)
        raise
    return await books.record(new.id, payment, None)


async def _move(
    ctx: PaymentsContext, attempt_id: str, event: Unanswered | Authorised, *, release: bool
) -> PaymentAttempt:
    """Apply an event that posts nothing to the attempt, in a transaction of its own; the
    attempt after it."""

    async def move(uow: UnitOfWork) -> PaymentAttempt:
        attempt = await _locked(uow, attempt_id)
        moved = advance(attempt, event)
        if moved != attempt or release:
            await uow.payments.save_attempt(moved, release=release)
        return moved

    return await run_in_uow(ctx.uows, move)


async def _locked(uow: UnitOfWork, attempt_id: str) -> PaymentAttempt:
    attempt = await uow.payments.locked_attempt(attempt_id)
    if attempt is None:
        raise AttemptConflict(f"no payment attempt {attempt_id!r}")
    return attempt


async def _authorise_and_capture(
    ctx: PaymentsContext, books: Books, new: PaymentAttempt, claim: Claim
) -> Payment:
    """A daily charge: find or make the authorisation, record it on the attempt, capture only
    that one, then (if an answer was ever lost) void the charge key's other authorisations."""
    if claim.known is not None:
        payment = await ctx.gateway.retrieve_payment(claim.known)
    else:
        payment = await _reconcile_or_create(
            ctx, new, claim.calls, claim.card, True, capture_manually=True
        )
    payment = await capture_recorded(ctx, new.id, payment, books)
    if claim.calls > 1 and new.charge_key is not None:
        await void_unrecorded(ctx, new.charge_key, keep=payment.id)
    return payment


async def capture_recorded(
    ctx: PaymentsContext, attempt_id: str, payment: Payment, books: Books | None = None
) -> Payment:
    """Given an authorisation of a daily-charge attempt (our call's answer, a lookup or a
    webhook), capture the one the attempt records, recording this one first if it names none."""
    if payment.status is not PaymentStatus.REQUIRES_CAPTURE:
        return payment
    payment = await _note_authorisation(ctx, books or OneByOne(ctx), attempt_id, payment)
    if payment.status is not PaymentStatus.REQUIRES_CAPTURE:
        return payment
    return await ctx.gateway.capture_payment(payment.id, idempotency_key=f"capture:{attempt_id}")


async def _note_authorisation(
    ctx: PaymentsContext, books: Books, attempt_id: str, payment: Payment
) -> Payment:
    """Record the authorisation on the attempt before capturing it: from then on it is the
    only one of this attempt ever captured. If the row already names another one (a webhook
    recorded a late request's authorisation first), that one is kept and ours is voided."""

    noted = await books.note(attempt_id, payment.id)
    recorded = noted.gateway_payment_id
    if recorded is None or recorded == payment.id:
        return payment
    await ctx.gateway.cancel_payment(payment.id, idempotency_key=f"void:{payment.id}")
    return await ctx.gateway.retrieve_payment(recorded)


async def _reconcile_or_create(
    ctx: PaymentsContext,
    new: PaymentAttempt,
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
        attempt = await _locked(uow, attempt_id)
        if not attempt.status.is_final:
            attempt = await apply_answer(ctx, uow, attempt, payment, declined, told)
        return PaymentOutcome.of(attempt)

    outcome = await run_in_uow(ctx.uows, apply)
    await ctx.announce(told)
    return outcome


async def apply_answer(
    ctx: PaymentsContext,
    uow: UnitOfWork,
    attempt: PaymentAttempt,
    payment: Payment | None,
    declined: CardDeclined | None,
    told: list[Message],
) -> PaymentAttempt:
    refused = (
        None if declined is None else (declined.decline_code or declined.code, declined.payment_id)
    )
    event = answer(attempt, payment, refused, payment_posting_id(attempt.id))
    if event is None:
        return attempt  # another authorisation of this attempt is the one it keeps: a duplicate
    if isinstance(event, Paid):
        assert payment is not None  # only a payment that succeeded is Paid
        await _post_payment(ctx, uow, attempt, payment)
    moved = advance(attempt, event)
    await uow.payments.save_attempt(moved, release=True)
    if isinstance(event, Paid):
        await _after_payment(ctx, uow, moved, told)
    elif moved.status.is_final and moved.purpose is PaymentPurpose.DAILY_CHARGE:
        await refresh_standing(ctx, uow, moved.account_id)  # declined: the day is owed
        if moved.service_day is not None:
            told.append(
                announcements.charge_declined(
                    moved.account_id, moved.service_day, moved.amount, at=ctx.now()
                )
            )
    return moved


async def _post_payment(
    ctx: PaymentsContext, uow: UnitOfWork, attempt: PaymentAttempt, payment: Payment
) -> None:
    await uow.ledger.post(payment_posting(ctx, attempt, payment))


def payment_posting(ctx: PaymentsContext, attempt: PaymentAttempt, payment: Payment) -> Posting:
    """The posting of a payment the gateway took for `attempt`."""
    return payment_received(
        attempt.id,
        clearing=ctx.clearing,
        paid_account=paid_account(attempt.purpose, attempt.account_id),
        account_id=attempt.account_id,
        amount=attempt.amount,
        gateway_payment_id=payment.id,
        purpose=attempt.purpose.value,
        at=payment.created,
    )


async def _after_payment(
    ctx: PaymentsContext, uow: UnitOfWork, paid: PaymentAttempt, told: list[Message]
) -> None:
    """What a payment that went through settles besides itself: the declined days it (a retry)
    or the wallet it filled (a top-up) pays, the account's standing, a warning if the wallet is
    still low."""
    now = ctx.now()
    if paid.purpose is PaymentPurpose.DAILY_CHARGE and paid.charge_key is not None:
        await recover_charge(uow, paid.charge_key)
        if paid.id != paid.charge_key and paid.service_day is not None:  # a retry: debt paid
            told.append(
                announcements.debt_recovered(
                    paid.account_id, paid.service_day, paid.amount,
                    announcements.PaidBy.CARD, at=now,
                )
            )  # fmt: skip
    elif paid.purpose is PaymentPurpose.TOP_UP:  # a pass paid at purchase fills no wallet
        for owed in await pay_debt_from_wallet(ctx, uow, paid.account_id, paid.amount.currency):
            if owed.service_day is not None:
                told.append(
                    announcements.debt_recovered(
                        owed.account_id, owed.service_day, owed.amount,
                        announcements.PaidBy.WALLET, at=now,
                    )
                )  # fmt: skip
        wallet = await uow.ledger.balance(accounts.wallet(paid.account_id))
        low = announcements.low_balance(
            paid.account_id, wallet, ctx.low_balance, because=payment_posting_id(paid.id), at=now
        )
        told.extend([low] if low is not None else [])
    await refresh_standing(ctx, uow, paid.account_id)
