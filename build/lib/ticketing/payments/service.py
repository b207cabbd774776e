"""The payment flows: customers and cards, wallet top-ups, daily charges, refunds, webhooks, debt.

Every payment follows one pattern, because a gateway call can end without us knowing what the
gateway did (timeout, 5xx, lost answer) and localstripe ignores idempotency keys:

1. store an attempt row under our idempotency key (`charge:{account}:{day}` for a daily
   charge) and commit, before any call;
2. claim it (a short lease, so two workers never call for one attempt at once) and count the
   call; if an earlier call was made, first ask the gateway what it has under our key;
3. create the payment only if the gateway has none, then record the outcome and post to the
   ledger in one transaction. The row's status only moves forward (pending/unknown → final),
   so the call's answer, a retry and a webhook can arrive in any order and post once.

Ledger postings: a top-up debits gateway clearing and credits the wallet; a daily charge
debits clearing and credits the receivable; refunds reverse them (a full refund with a reversing
posting, a partial one with a smaller mirror). A declined daily charge leaves the receivable
owed: the account goes into debt recovery, and past its debt limit its credentials are denied
(on the shared deny list, `uow.deny_list`, reason `debt:{account}`).
A successful retry, or a top-up large enough to cover a failed day, clears it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateways.errors import CardDeclined, GatewayError
from gateways.protocol import Gateway, Payment, PaymentRequest, PaymentStatus, Refund, RefundStatus
from gateways.webhooks import WebhookEvent, construct_event
from ticketing.db.dialect import insert_or_skip
from ticketing.db.models import RiderAccountRow, table_of
from ticketing.db.payments_models import (
    AttemptStatus,
    GatewayCustomerRow,
    PaymentAttemptRow,
    PaymentPurpose,
    PaymentRefundRow,
    RefundRecordStatus,
    WebhookEventRow,
)
from ticketing.db.uow import UnitOfWork, UnitOfWorkFactory
from ticketing.ledger import accounts
from ticketing.ledger.errors import InsufficientFunds
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.payments.errors import (
    AttemptConflict,
    GatewayMismatch,
    NoSavedCard,
    PaymentInProgress,
    RefundNotAllowed,
)
from ticketing.riders import AccountStatus

_OPEN = (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)
_OPEN_REFUND = (RefundRecordStatus.PENDING, RefundRecordStatus.UNKNOWN)


def daily_charge_key(account_id: str, day: date) -> str:
    return f"charge:{account_id}:{day.isoformat()}"


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """Where one payment attempt stands after a call (or a lookup) and its recording."""

    attempt_id: str
    status: AttemptStatus
    amount: Money
    gateway_payment_id: str | None
    decline_code: str | None
    posting_id: str | None


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund_id: str
    status: RefundRecordStatus
    amount: Money
    gateway_refund_id: str | None
    posting_id: str | None


@dataclass(frozen=True, slots=True)
class Standing:
    """An account's unpaid daily charges and what they did to it."""

    account_id: str
    debt: int
    debt_limit: int
    denied: bool


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    event_id: str
    duplicate: bool
    payment: PaymentOutcome | None


def debt_reason(account_id: str) -> str:
    """The deny-list reason of an account's credentials denied for unpaid debt."""
    return f"debt:{account_id}"


def _outcome(row: PaymentAttemptRow) -> PaymentOutcome:
    return PaymentOutcome(
        row.id,
        row.status,
        Money(row.amount, row.currency),
        row.gateway_payment_id,
        row.decline_code,
        row.posting_id,
    )


def _paid_account(purpose: PaymentPurpose, account_id: str) -> str:
    """The ledger account a payment credits (and its refund debits): the wallet for a top-up,
    the receivable for a daily charge."""
    if purpose is PaymentPurpose.TOP_UP:
        return accounts.wallet(account_id)
    return accounts.receivable(account_id)


async def _mark_recovered(session: AsyncSession, charge_key: str, at: datetime) -> None:
    """The failed attempts of a daily charge are paid now (by a retry or from the wallet)."""
    await session.execute(
        update(PaymentAttemptRow)
        .where(
            PaymentAttemptRow.charge_key == charge_key,
            PaymentAttemptRow.status == AttemptStatus.FAILED,
        )
        .values(status=AttemptStatus.RECOVERED, updated_at=at)
    )


def _refund_outcome(row: PaymentRefundRow) -> RefundOutcome:
    return RefundOutcome(
        row.id, row.status, Money(row.amount, row.currency), row.gateway_refund_id, row.posting_id
    )


class PaymentsService:
    """The payment flows over a `Gateway` and the ledger. Opens its own transactions: each
    gateway call happens between commits, never inside an open transaction."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        gateway: Gateway,
        *,
        gateway_name: str = "stripe",
        webhook_secret: str | None = None,
        default_debt_limit: int = 0,
        claim_lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._uows = uow_factory
        self._gateway = gateway
        self._clearing = accounts.gateway_clearing(gateway_name)
        self._webhook_secret = webhook_secret
        self._default_debt_limit = default_debt_limit
        self._lease = claim_lease

    def _now(self) -> datetime:
        return self._uows.clock()

    # --- customers and cards -------------------------------------------------------------

    async def ensure_customer(self, account_id: str, *, email: str | None = None) -> str:
        """The gateway customer id of the account, created once (looked up after a failure)."""
        now = self._now()
        customers = table_of(GatewayCustomerRow)
        async with self._uows() as uow:
            inserted = await uow.session.execute(
                insert_or_skip(uow.session, customers).returning(customers.c.account_id),
                {"account_id": account_id, "created_at": now, "updated_at": now},
            )
            first_try = inserted.first() is not None
            row = await uow.session.get_one(GatewayCustomerRow, account_id)
            known = row.customer_id
            await uow.commit()
        if known is not None:
            return known
        key = f"customer:{account_id}"
        found = None if first_try else await self._gateway.find_customer(account_id)
        customer = found or await self._gateway.create_customer(
            account_id, idempotency_key=key, email=email
        )
        async with self._uows() as uow:
            await uow.session.execute(
                update(GatewayCustomerRow)
                .where(GatewayCustomerRow.account_id == account_id)
                .values(customer_id=customer.id, updated_at=self._now())
            )
            await uow.commit()
        return customer.id

    async def save_card(self, account_id: str, payment_method: str) -> str:
        """Attach a tokenised card and make it the one charged; raises CardDeclined."""
        customer_id = await self.ensure_customer(account_id)
        card = await self._gateway.save_card(
            customer_id, payment_method, idempotency_key=f"card:{account_id}:{payment_method}"
        )
        async with self._uows() as uow:
            await uow.session.execute(
                update(GatewayCustomerRow)
                .where(GatewayCustomerRow.account_id == account_id)
                .values(payment_method_id=card.id, card_last4=card.last4, updated_at=self._now())
            )
            await uow.commit()
        return card.id

    async def _card(self, session: AsyncSession, account_id: str) -> tuple[str, str]:
        row = await session.get(GatewayCustomerRow, account_id)
        if row is None or row.customer_id is None or row.payment_method_id is None:
            raise NoSavedCard(f"account {account_id!r} has no saved card")
        return row.customer_id, row.payment_method_id

    # --- payments ------------------------------------------------------------------------

    async def top_up(self, account_id: str, amount: Money, *, request_id: str) -> PaymentOutcome:
        """Charge the saved card and credit the wallet; nothing is posted if it fails."""
        return await self._pay(
            f"topup:{account_id}:{request_id}",
            PaymentPurpose.TOP_UP,
            account_id,
            amount,
            off_session=False,
        )

    async def charge_day(self, account_id: str, day: date, amount: Money) -> PaymentOutcome:
        """The one aggregated charge of a postpaid account's service day.

        Safe to call again after any failure: it reconciles with the gateway instead of
        charging twice. Raises a GatewayOutcomeUnknown if the gateway cannot be reached; the
        attempt then waits, status `unknown`, for the next call (or a webhook).
        """
        key = daily_charge_key(account_id, day)
        return await self._pay(
            key, PaymentPurpose.DAILY_CHARGE, account_id, amount, day=day, charge_key=key
        )

    async def retry_failed_charges(self, account_id: str) -> list[PaymentOutcome]:
        """Charge again every declined day of the account (a new attempt each)."""
        async with self._uows() as uow:
            owed = await self._owed_charges(uow.session, account_id)
            counted = await uow.session.execute(
                select(PaymentAttemptRow.charge_key, func.count())
                .where(PaymentAttemptRow.charge_key.in_([r.charge_key for r in owed]))
                .group_by(PaymentAttemptRow.charge_key)
            )
            count: dict[str | None, int] = dict(counted.all())
            retries = [
                (
                    f"{r.charge_key}:retry-{count[r.charge_key]}",
                    r.charge_key,
                    r.service_day,
                    Money(r.amount, r.currency),
                )
                for r in owed
            ]
        return [
            await self._pay(
                attempt_id,
                PaymentPurpose.DAILY_CHARGE,
                account_id,
                amount,
                day=day,
                charge_key=charge_key,
            )
            for attempt_id, charge_key, day, amount in retries
        ]

    async def _pay(
        self,
        attempt_id: str,
        purpose: PaymentPurpose,
        account_id: str,
        amount: Money,
        *,
        day: date | None = None,
        charge_key: str | None = None,
        off_session: bool = True,
    ) -> PaymentOutcome:
        if amount.amount <= 0:
            raise AttemptConflict(f"payment amount must be positive, not {amount}")
        now = self._now()
        async with self._uows() as uow:
            customer_id, card_id = await self._card(uow.session, account_id)
            await uow.session.execute(
                insert_or_skip(uow.session, table_of(PaymentAttemptRow)),
                {
                    "id": attempt_id,
                    "purpose": purpose,
                    "account_id": account_id,
                    "service_day": day,
                    "charge_key": charge_key,
                    "amount": amount.amount,
                    "currency": amount.currency,
                    "status": AttemptStatus.PENDING,
                    "gateway_calls": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            row = await uow.session.get_one(PaymentAttemptRow, attempt_id)
            if (row.account_id, row.amount, row.currency, row.purpose) != (
                account_id,
                amount.amount,
                amount.currency,
                purpose,
            ):
                raise AttemptConflict(f"payment {attempt_id!r} exists with another body")
            if row.status.is_final:
                return _outcome(row)
            await uow.commit()

        calls = await self._claim(table_of(PaymentAttemptRow), attempt_id, _OPEN)
        if calls is None:
            raise PaymentInProgress(f"payment {attempt_id!r} is being processed elsewhere")
        try:
            payment = await self._reconcile_or_create(
                attempt_id, calls, customer_id, card_id, amount, purpose, day, off_session
            )
        except CardDeclined as declined:
            return await self._record(attempt_id, None, declined)
        except GatewayError:
            await self._release(
                table_of(PaymentAttemptRow), attempt_id, _OPEN, AttemptStatus.UNKNOWN
            )
            raise
        return await self._record(attempt_id, payment, None)

    async def _reconcile_or_create(
        self,
        attempt_id: str,
        calls: int,
        customer_id: str,
        card_id: str,
        amount: Money,
        purpose: PaymentPurpose,
        day: date | None,
        off_session: bool,
    ) -> Payment:
        if calls > 1:
            found = await self._gateway.find_payments(attempt_id)
            if found:
                succeeded = [p for p in found if p.status is PaymentStatus.SUCCEEDED]
                return (succeeded or found)[-1]
        metadata = {"purpose": purpose.value}
        if day is not None:
            metadata["service_day"] = day.isoformat()
        return await self._gateway.create_payment(
            PaymentRequest(
                customer_id=customer_id,
                payment_method_id=card_id,
                amount=amount.amount,
                currency=amount.currency,
                idempotency_key=attempt_id,
                metadata=metadata,
                off_session=off_session,
            )
        )

    async def _claim(self, table: Table, row_id: str, open_states: Sequence[str]) -> int | None:
        """Take the lease on an open row and count a gateway call; None if someone holds it."""
        now = self._now()
        async with self._uows() as uow:
            result = await uow.session.execute(
                update(table)
                .where(
                    table.c.id == row_id,
                    table.c.status.in_(open_states),
                    (table.c.claimed_until.is_(None)) | (table.c.claimed_until < now),
                )
                .values(
                    gateway_calls=table.c.gateway_calls + 1,
                    claimed_until=now + self._lease,
                    updated_at=now,
                )
                .returning(table.c.gateway_calls)
            )
            calls = result.scalar_one_or_none()
            await uow.commit()
        return None if calls is None else int(calls)

    async def _release(
        self, table: Table, row_id: str, open_states: Sequence[str], status: str
    ) -> None:
        """Drop the lease on a still open row after a call that ended without a definite
        answer."""
        async with self._uows() as uow:
            await uow.session.execute(
                update(table)
                .where(table.c.id == row_id, table.c.status.in_(open_states))
                .values(status=str(status), claimed_until=None, updated_at=self._now())
            )
            await uow.commit()

    async def _record(
        self, attempt_id: str, payment: Payment | None, declined: CardDeclined | None
    ) -> PaymentOutcome:
        """Apply what the gateway said to the attempt, forward only, posting at most once."""
        async with self._uows() as uow:
            row = await self._locked_attempt(uow.session, attempt_id)
            if not row.status.is_final:
                await self._apply(uow, row, payment, declined)
            outcome = _outcome(row)
            await uow.commit()
        return outcome

    async def _locked_attempt(self, session: AsyncSession, attempt_id: str) -> PaymentAttemptRow:
        row = await session.scalar(
            select(PaymentAttemptRow)
            .where(PaymentAttemptRow.id == attempt_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            raise AttemptConflict(f"no payment attempt {attempt_id!r}")
        return row

    async def _apply(
        self,
        uow: UnitOfWork,
        row: PaymentAttemptRow,
        payment: Payment | None,
        declined: CardDeclined | None,
    ) -> None:
        now = self._now()
        row.updated_at = now
        row.claimed_until = None
        if payment is not None:
            if (payment.amount, payment.currency) != (row.amount, row.currency):
                raise GatewayMismatch(
                    f"gateway payment {payment.id} is {payment.amount} {payment.currency}, "
                    f"attempt {row.id} asked {row.amount} {row.currency}"
                )
            row.gateway_payment_id = payment.id
        refused = payment is not None and payment.status in (
            PaymentStatus.FAILED,
            PaymentStatus.CANCELED,
        )
        if declined is not None or refused:
            row.status = AttemptStatus.FAILED
            if declined is not None:
                row.decline_code = declined.decline_code or declined.code
                row.gateway_payment_id = row.gateway_payment_id or declined.payment_id
            else:
                assert payment is not None
                row.decline_code = payment.decline_code or payment.status.value
            await uow.session.flush()
            if row.purpose is PaymentPurpose.DAILY_CHARGE:
                await self._refresh_standing(uow, row.account_id, row.currency)
            return
        if payment is None or payment.status is not PaymentStatus.SUCCEEDED:
            row.status = AttemptStatus.UNKNOWN  # still processing at the gateway
            return
        posting = Posting.transfer(
            f"payment:{row.id}",
            debit=self._clearing,
            credit=_paid_account(row.purpose, row.account_id),
            amount=Money(row.amount, row.currency),
            occurred_at=payment.created,
            description=f"{row.purpose.value} {payment.id}",
            metadata={"gateway_payment_id": payment.id, "account": row.account_id},
        )
        await uow.ledger.post(posting)
        row.status = AttemptStatus.SUCCEEDED
        row.posting_id = posting.id
        row.decline_code = None
        await uow.session.flush()
        if row.purpose is PaymentPurpose.DAILY_CHARGE and row.charge_key is not None:
            await _mark_recovered(uow.session, row.charge_key, now)
        else:
            await self._pay_debt_from_wallet(uow, row.account_id, row.currency)
        await self._refresh_standing(uow, row.account_id, row.currency)

    # --- debt ----------------------------------------------------------------------------

    async def _owed_charges(
        self, session: AsyncSession, account_id: str
    ) -> list[PaymentAttemptRow]:
        """The first failed attempt of each declined day not paid since, oldest first."""
        rows = await session.scalars(
            select(PaymentAttemptRow)
            .where(
                PaymentAttemptRow.account_id == account_id,
                PaymentAttemptRow.purpose == PaymentPurpose.DAILY_CHARGE,
                PaymentAttemptRow.status == AttemptStatus.FAILED,
            )
            .order_by(PaymentAttemptRow.created_at, PaymentAttemptRow.id)
        )
        by_charge: dict[str, PaymentAttemptRow] = {}
        for row in rows:
            assert row.charge_key is not None
            by_charge.setdefault(row.charge_key, row)
        return list(by_charge.values())

    async def _pay_debt_from_wallet(self, uow: UnitOfWork, account_id: str, currency: str) -> None:
        for owed in await self._owed_charges(uow.session, account_id):
            if owed.currency != currency:
                continue
            try:
                await uow.ledger.post(
                    Posting.transfer(
                        f"debt-paid:{owed.charge_key}",
                        debit=accounts.wallet(account_id),
                        credit=accounts.receivable(account_id),
                        amount=Money(owed.amount, owed.currency),
                        occurred_at=self._now(),
                        description=f"declined {owed.charge_key} paid from the wallet",
                    )
                )
            except InsufficientFunds:
                break
            assert owed.charge_key is not None  # _owed_charges only returns rows with one
            await _mark_recovered(uow.session, owed.charge_key, self._now())

    async def standing(self, account_id: str) -> Standing:
        async with self._uows() as uow:
            return await self._standing(uow.session, account_id)

    async def _standing(self, session: AsyncSession, account_id: str) -> Standing:
        debt = sum(r.amount for r in await self._owed_charges(session, account_id))
        account = await session.get(RiderAccountRow, account_id)
        limit = account.debt_limit if account is not None else self._default_debt_limit
        return Standing(account_id, debt, limit, denied=debt > limit)

    async def _refresh_standing(self, uow: UnitOfWork, account_id: str, currency: str) -> None:
        standing = await self._standing(uow.session, account_id)
        now = self._now()
        if standing.denied:
            await uow.deny_list.deny_account(account_id, debt_reason(account_id), at=now)
        else:
            await uow.deny_list.allow_account(account_id, debt_reason(account_id), at=now)
        status = AccountStatus.DEBT_RECOVERY if standing.debt > 0 else AccountStatus.ACTIVE
        await uow.session.execute(
            update(RiderAccountRow)
            .where(
                RiderAccountRow.id == account_id,
                RiderAccountRow.status.in_([AccountStatus.ACTIVE, AccountStatus.DEBT_RECOVERY]),
                RiderAccountRow.status != status,
            )
            .values(status=status, updated_at=now)
        )

    # --- refunds -------------------------------------------------------------------------

    async def refund(
        self, attempt_id: str, *, refund_id: str, amount: int | None = None
    ) -> RefundOutcome:
        """Refund all (`amount` None) or part of a succeeded payment, once per `refund_id`."""
        now = self._now()
        async with self._uows() as uow:
            attempt = await uow.session.get(PaymentAttemptRow, attempt_id)
            if attempt is None or attempt.status is not AttemptStatus.SUCCEEDED:
                raise RefundNotAllowed(f"payment {attempt_id!r} has not succeeded")
            existing = await uow.session.get(PaymentRefundRow, refund_id)
            if existing is None:
                wanted = attempt.amount if amount is None else amount
                refunded = await uow.session.scalar(
                    select(func.coalesce(func.sum(PaymentRefundRow.amount), 0)).where(
                        PaymentRefundRow.attempt_id == attempt_id,
                        PaymentRefundRow.status != RefundRecordStatus.FAILED,
                    )
                )
                if wanted <= 0 or wanted > attempt.amount - int(refunded or 0):
                    raise RefundNotAllowed(
                        f"cannot refund {wanted} of payment {attempt_id!r}: "
                        f"{attempt.amount - int(refunded or 0)} {attempt.currency} left"
                    )
                if attempt.purpose is PaymentPurpose.TOP_UP:
                    wallet = await uow.ledger.account(accounts.wallet(attempt.account_id))
                    if wallet.available < wanted:
                        raise InsufficientFunds(
                            wallet.code, wallet.available, wanted, wallet.currency
                        )
                await uow.session.execute(
                    insert_or_skip(uow.session, table_of(PaymentRefundRow)),
                    {
                        "id": refund_id,
                        "attempt_id": attempt_id,
                        "amount": wanted,
                        "currency": attempt.currency,
                        "status": RefundRecordStatus.PENDING,
                        "gateway_calls": 0,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            row = await uow.session.get_one(PaymentRefundRow, refund_id)
            if row.attempt_id != attempt_id or (amount is not None and row.amount != amount):
                raise AttemptConflict(f"refund {refund_id!r} exists with another body")
            if row.status not in _OPEN_REFUND:
                return _refund_outcome(row)
            payment_id, wanted = attempt.gateway_payment_id, row.amount
            await uow.commit()
        assert payment_id is not None

        calls = await self._claim(table_of(PaymentRefundRow), refund_id, _OPEN_REFUND)
        if calls is None:
            raise PaymentInProgress(f"refund {refund_id!r} is being processed elsewhere")
        try:
            found = await self._gateway.find_refunds(payment_id, refund_id) if calls > 1 else []
            refund = (
                found[0]
                if found
                else await self._gateway.refund(
                    payment_id, amount=wanted, idempotency_key=refund_id
                )
            )
        except GatewayError:
            await self._release(
                table_of(PaymentRefundRow), refund_id, _OPEN_REFUND, RefundRecordStatus.UNKNOWN
            )
            raise
        return await self._record_refund(refund_id, refund)

    async def _record_refund(self, refund_id: str, refund: Refund) -> RefundOutcome:
        async with self._uows() as uow:
            row = await uow.session.scalar(
                select(PaymentRefundRow)
                .where(PaymentRefundRow.id == refund_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            assert row is not None
            if row.status in _OPEN_REFUND:
                row.gateway_refund_id = refund.id
                row.claimed_until = None
                row.updated_at = self._now()
                if refund.amount != row.amount:
                    raise GatewayMismatch(f"gateway refunded {refund.amount}, asked {row.amount}")
                if refund.status is RefundStatus.SUCCEEDED:
                    row.posting_id = await self._post_refund(uow, row, refund)
                    row.status = RefundRecordStatus.SUCCEEDED
                elif refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
                    row.status = RefundRecordStatus.FAILED
                else:
                    row.status = RefundRecordStatus.UNKNOWN
            outcome = _refund_outcome(row)
            await uow.commit()
        return outcome

    async def _post_refund(self, uow: UnitOfWork, row: PaymentRefundRow, refund: Refund) -> str:
        attempt = await uow.session.get_one(PaymentAttemptRow, row.attempt_id)
        assert attempt.posting_id is not None
        posting_id = f"refund:{row.id}"
        if row.amount == attempt.amount:
            await uow.ledger.reverse(
                attempt.posting_id, posting_id, at=refund.created, description=f"refund {refund.id}"
            )
            return posting_id
        await uow.ledger.post(
            Posting.transfer(
                posting_id,
                debit=_paid_account(attempt.purpose, attempt.account_id),
                credit=self._clearing,
                amount=Money(row.amount, row.currency),
                occurred_at=refund.created,
                description=f"partial refund {refund.id} of {attempt.posting_id}",
                metadata={"refund_of": attempt.posting_id, "gateway_refund_id": refund.id},
            )
        )
        return posting_id

    # --- webhooks ------------------------------------------------------------------------

    async def handle_webhook(
        self, payload: bytes, signature: str | None, *, now: datetime | None = None
    ) -> WebhookOutcome:
        """Verify (WebhookError → answer 400), deduplicate by event id, re-fetch, apply."""
        if self._webhook_secret is None:
            raise RuntimeError("PaymentsService was built without a webhook secret")
        event = construct_event(payload, signature, self._webhook_secret, now=now or self._now())
        async with self._uows() as uow:
            inserted = await uow.session.execute(
                insert_or_skip(uow.session, table_of(WebhookEventRow)).returning(
                    table_of(WebhookEventRow).c.event_id
                ),
                {
                    "event_id": event.id,
                    "type": event.type,
                    "object_id": event.object_id,
                    "received_at": self._now(),
                },
            )
            fresh = inserted.first() is not None
            await uow.commit()
        if not fresh:
            return WebhookOutcome(event.id, duplicate=True, payment=None)
        try:
            payment = await self._on_event(event)
        except BaseException:
            # Forget the event so the gateway's redelivery is processed, not skipped.
            async with self._uows() as uow:
                await uow.session.execute(
                    delete(WebhookEventRow).where(WebhookEventRow.event_id == event.id)
                )
                await uow.commit()
            raise
        return WebhookOutcome(event.id, duplicate=False, payment=payment)

    async def _on_event(self, event: WebhookEvent) -> PaymentOutcome | None:
        if event.object_type != "payment_intent":
            return None
        # The event body may be stale or out of order: the gateway's current state decides.
        payment = await self._gateway.retrieve_payment(event.object_id)
        async with self._uows() as uow:
            attempt_id = await uow.session.scalar(
                select(PaymentAttemptRow.id).where(
                    (PaymentAttemptRow.gateway_payment_id == payment.id)
                    | (PaymentAttemptRow.id == (payment.idempotency_key or ""))
                )
            )
        if attempt_id is None:
            return None  # not ours (or made before we stored it: reconciliation reports it)
        if payment.status is PaymentStatus.FAILED:
            declined = CardDeclined(
                payment.failure_message or "declined",
                code=payment.decline_code or "card_declined",
                payment_id=payment.id,
            )
            return await self._record(attempt_id, payment, declined)
        return await self._record(attempt_id, payment, None)

    # --- reports -------------------------------------------------------------------------

    async def attempts(self, account_id: str | None = None) -> list[PaymentOutcome]:
        async with self._uows() as uow:
            query = select(PaymentAttemptRow).order_by(PaymentAttemptRow.id)
            if account_id is not None:
                query = query.where(PaymentAttemptRow.account_id == account_id)
            return [_outcome(r) for r in await uow.session.scalars(query)]

    async def open_attempts(self) -> list[str]:
        """Attempts whose outcome we do not know yet (to retry or reconcile)."""
        async with self._uows() as uow:
            rows = await uow.session.scalars(
                select(PaymentAttemptRow.id).where(PaymentAttemptRow.status.in_(_OPEN))
            )
            return list(rows)

    async def totals_by_status(self) -> dict[AttemptStatus, int]:
        async with self._uows() as uow:
            totals: dict[AttemptStatus, int] = defaultdict(int)
            for status, amount in await uow.session.execute(
                select(PaymentAttemptRow.status, func.sum(PaymentAttemptRow.amount)).group_by(
                    PaymentAttemptRow.status
                )
            ):
                totals[status] += int(amount)
            return dict(totals)
