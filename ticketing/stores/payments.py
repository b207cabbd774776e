"""Payment records: gateway customers and cards, payment attempts, refunds, webhook events.

Attempts and refunds are the rows the payment flows (`ticketing.payments`) move forward: the
flows change a row loaded with `locked_attempt`/`locked_refund` and the unit of work writes it
at commit. `claim` takes the short lease that keeps two workers from calling the gateway for
one row at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import insert_or_skip
from ticketing.db.models import table_of
from ticketing.db.payments_models import (
    AttemptStatus,
    GatewayCustomerRow,
    PaymentAttemptRow,
    PaymentPurpose,
    PaymentRefundRow,
    RefundRecordStatus,
    WebhookEventRow,
)
from ticketing.money import Money

OPEN_ATTEMPT = (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)
OPEN_REFUND = (RefundRecordStatus.PENDING, RefundRecordStatus.UNKNOWN)
ATTEMPTS = table_of(PaymentAttemptRow)
REFUNDS = table_of(PaymentRefundRow)
CUSTOMERS = table_of(GatewayCustomerRow)
WEBHOOK_EVENTS = table_of(WebhookEventRow)


@dataclass(frozen=True, slots=True)
class SavedCard:
    customer_id: str
    payment_method_id: str
    last4: str | None = None


@dataclass(frozen=True, slots=True)
class NewAttempt:
    """A payment to ask the gateway for; `id` is the idempotency key it carries."""

    id: str
    purpose: PaymentPurpose
    account_id: str
    amount: Money
    service_day: date | None = None
    charge_key: str | None = None


class PaymentRecords:
    """The payment flows' records (see the module docstring)."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    # --- customers and cards ----------------------------------------------------------

    async def add_customer(self, account_id: str) -> tuple[bool, str | None]:
        """Make sure the account has a customer row; (whether it is new, the gateway customer
        id if one was recorded)."""
        now = self._clock()
        inserted = await self._session.execute(
            insert_or_skip(self._session, CUSTOMERS).returning(CUSTOMERS.c.account_id),
            {"account_id": account_id, "created_at": now, "updated_at": now},
        )
        new = inserted.first() is not None
        row = await self._session.get_one(GatewayCustomerRow, account_id)
        return new, row.customer_id

    async def set_customer(self, account_id: str, customer_id: str) -> None:
        await self._session.execute(
            update(GatewayCustomerRow)
            .where(GatewayCustomerRow.account_id == account_id)
            .values(customer_id=customer_id, updated_at=self._clock())
        )

    async def set_card(self, account_id: str, payment_method_id: str, last4: str | None) -> None:
        await self._session.execute(
            update(GatewayCustomerRow)
            .where(GatewayCustomerRow.account_id == account_id)
            .values(payment_method_id=payment_method_id, card_last4=last4, updated_at=self._clock())
        )

    async def saved_card(self, account_id: str) -> SavedCard | None:
        row = await self._session.get(GatewayCustomerRow, account_id)
        if row is None or row.customer_id is None or row.payment_method_id is None:
            return None
        return SavedCard(row.customer_id, row.payment_method_id, row.card_last4)

    # --- attempts ---------------------------------------------------------------------

    async def add_attempt(self, new: NewAttempt) -> PaymentAttemptRow:
        """Store the attempt unless its id is known; the stored row either way."""
        now = self._clock()
        await self._session.execute(
            insert_or_skip(self._session, ATTEMPTS),
            {
                "id": new.id,
                "purpose": new.purpose,
                "account_id": new.account_id,
                "service_day": new.service_day,
                "charge_key": new.charge_key,
                "amount": new.amount.amount,
                "currency": new.amount.currency,
                "status": AttemptStatus.PENDING,
                "gateway_calls": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
        return await self._session.get_one(PaymentAttemptRow, new.id, populate_existing=True)

    async def attempt(self, attempt_id: str) -> PaymentAttemptRow | None:
        return await self._session.get(PaymentAttemptRow, attempt_id)

    async def locked_attempt(self, attempt_id: str) -> PaymentAttemptRow | None:
        """The attempt, locked to the end of the transaction, read afresh."""
        return await self._session.scalar(
            select(PaymentAttemptRow)
            .where(PaymentAttemptRow.id == attempt_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def attempt_for_payment(self, gateway_payment_id: str, key: str | None) -> str | None:
        """The id of our attempt for a gateway payment (by its id or our idempotency key)."""
        return await self._session.scalar(
            select(PaymentAttemptRow.id).where(
                (PaymentAttemptRow.gateway_payment_id == gateway_payment_id)
                | (PaymentAttemptRow.id == (key or ""))
            )
        )

    async def failed_charges(self, account_id: str) -> list[PaymentAttemptRow]:
        """The declined daily-charge attempts of an account not paid since, oldest first."""
        rows = await self._session.scalars(
            select(PaymentAttemptRow)
            .where(
                PaymentAttemptRow.account_id == account_id,
                PaymentAttemptRow.purpose == PaymentPurpose.DAILY_CHARGE,
                PaymentAttemptRow.status == AttemptStatus.FAILED,
                PaymentAttemptRow.charge_key.is_not(None),
            )
            .order_by(PaymentAttemptRow.created_at, PaymentAttemptRow.id)
        )
        return list(rows)

    async def charge_attempts(self, charge_key: str) -> list[PaymentAttemptRow]:
        """Every attempt of one logical charge (first attempt and retries), oldest first."""
        rows = await self._session.scalars(
            select(PaymentAttemptRow)
            .where(PaymentAttemptRow.charge_key == charge_key)
            .order_by(PaymentAttemptRow.created_at, PaymentAttemptRow.id)
        )
        return list(rows)

    async def attempts_per_charge(self, charge_keys: Sequence[str]) -> dict[str, int]:
        counted = await self._session.execute(
            select(PaymentAttemptRow.charge_key, func.count())
            .where(PaymentAttemptRow.charge_key.in_(charge_keys))
            .group_by(PaymentAttemptRow.charge_key)
        )
        return {key: int(n) for key, n in counted.all() if key is not None}

    async def mark_recovered(self, charge_key: str) -> None:
        """The failed attempts of a daily charge are paid now (by a retry or from the wallet)."""
        await self._session.execute(
            update(PaymentAttemptRow)
            .where(
                PaymentAttemptRow.charge_key == charge_key,
                PaymentAttemptRow.status == AttemptStatus.FAILED,
            )
            .values(status=AttemptStatus.RECOVERED, updated_at=self._clock())
        )

    async def attempts(self, account_id: str | None = None) -> list[PaymentAttemptRow]:
        query = select(PaymentAttemptRow).order_by(PaymentAttemptRow.id)
        if account_id is not None:
            query = query.where(PaymentAttemptRow.account_id == account_id)
        return list(await self._session.scalars(query))

    async def open_attempt_ids(self) -> list[str]:
        rows = await self._session.scalars(
            select(PaymentAttemptRow.id).where(PaymentAttemptRow.status.in_(OPEN_ATTEMPT))
        )
        return list(rows)

    async def totals_by_status(self) -> dict[AttemptStatus, int]:
        totals: dict[AttemptStatus, int] = defaultdict(int)
        for status, amount in await self._session.execute(
            select(PaymentAttemptRow.status, func.sum(PaymentAttemptRow.amount)).group_by(
                PaymentAttemptRow.status
            )
        ):
            totals[status] += int(amount)
        return dict(totals)

    # --- refunds ----------------------------------------------------------------------

    async def refund(self, refund_id: str) -> PaymentRefundRow | None:
        return await self._session.get(PaymentRefundRow, refund_id)

    async def refunded(self, attempt_id: str) -> int:
        """What refunds of an attempt took or may still take (all but failed ones)."""
        total = await self._session.scalar(
            select(func.coalesce(func.sum(PaymentRefundRow.amount), 0)).where(
                PaymentRefundRow.attempt_id == attempt_id,
                PaymentRefundRow.status != RefundRecordStatus.FAILED,
            )
        )
        return int(total or 0)

    async def add_refund(self, refund_id: str, attempt_id: str, amount: Money) -> None:
        now = self._clock()
        await self._session.execute(
            insert_or_skip(self._session, REFUNDS),
            {
                "id": refund_id,
                "attempt_id": attempt_id,
                "amount": amount.amount,
                "currency": amount.currency,
                "status": RefundRecordStatus.PENDING,
                "gateway_calls": 0,
                "created_at": now,
                "updated_at": now,
            },
        )

    async def locked_refund(self, refund_id: str) -> PaymentRefundRow | None:
        return await self._session.scalar(
            select(PaymentRefundRow)
            .where(PaymentRefundRow.id == refund_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    # --- gateway call leases ----------------------------------------------------------

    async def claim_attempt(self, attempt_id: str, lease: timedelta) -> int | None:
        """Take the lease on an open attempt and count a gateway call (the count so far);
        None if the attempt is final or someone else holds the lease."""
        return await self._claim(ATTEMPTS, attempt_id, OPEN_ATTEMPT, lease)

    async def claim_refund(self, refund_id: str, lease: timedelta) -> int | None:
        return await self._claim(REFUNDS, refund_id, OPEN_REFUND, lease)

    async def release_attempt(self, attempt_id: str) -> None:
        """Drop the lease after a call that ended without a definite answer: status unknown."""
        await self._release(ATTEMPTS, attempt_id, OPEN_ATTEMPT, AttemptStatus.UNKNOWN)

    async def release_refund(self, refund_id: str) -> None:
        await self._release(REFUNDS, refund_id, OPEN_REFUND, RefundRecordStatus.UNKNOWN)

    async def _claim(
        self, table: Table, row_id: str, open_states: Sequence[str], lease: timedelta
    ) -> int | None:
        now = self._clock()
        result = await self._session.execute(
            update(table)
            .where(
                table.c.id == row_id,
                table.c.status.in_(open_states),
                (table.c.claimed_until.is_(None)) | (table.c.claimed_until < now),
            )
            .values(
                gateway_calls=table.c.gateway_calls + 1,
                claimed_until=now + lease,
                updated_at=now,
            )
            .returning(table.c.gateway_calls)
        )
        calls = result.scalar_one_or_none()
        return None if calls is None else int(calls)

    async def _release(
        self, table: Table, row_id: str, open_states: Sequence[str], status: str
    ) -> None:
        await self._session.execute(
            update(table)
            .where(table.c.id == row_id, table.c.status.in_(open_states))
            .values(status=str(status), claimed_until=None, updated_at=self._clock())
        )

    # --- webhook events ---------------------------------------------------------------

    async def add_webhook_event(self, event_id: str, event_type: str, object_id: str) -> bool:
        """Remember an event id; False if it was seen before (a redelivery)."""
        inserted = await self._session.execute(
            insert_or_skip(self._session, WEBHOOK_EVENTS).returning(WEBHOOK_EVENTS.c.event_id),
            {
                "event_id": event_id,
                "type": event_type,
                "object_id": object_id,
                "received_at": self._clock(),
            },
        )
        return inserted.first() is not None

    async def forget_webhook_event(self, event_id: str) -> None:
        """Forget an event whose processing failed, so its redelivery is processed."""
        await self._session.execute(
            delete(WebhookEventRow).where(WebhookEventRow.event_id == event_id)
        )
