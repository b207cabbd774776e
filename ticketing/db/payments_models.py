"""Tables of the payments flows: gateway customers, payment attempts, refunds, webhook events.

Created by migration 0002. A payment attempt row is written (status `pending`) before the
gateway is called, under the idempotency key the gateway also sees, so a crash or a lost
answer always leaves a record to reconcile from. Purposes and statuses are the payments
model's (`ticketing.payments.model`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import CODE, Base, _enum
from ticketing.payments.model import AttemptStatus, PaymentPurpose, RefundRecordStatus


class GatewayCustomerRow(Base):
    """The gateway's customer and saved card for one rider account."""

    __tablename__ = "gateway_customers"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    payment_method_id: Mapped[str | None] = mapped_column(String(100))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentAttemptRow(Base):
    """One payment we asked the gateway for; `id` is the idempotency key it carries."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        Index("ix_payment_attempts_charge", "charge_key"),
        Index("ix_payment_attempts_account", "account_id", "purpose", "status"),
    )

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    purpose: Mapped[PaymentPurpose] = mapped_column(_enum(PaymentPurpose))
    account_id: Mapped[str] = mapped_column(String(64))
    service_day: Mapped[date | None] = mapped_column(Date)
    # The logical charge (`charge:{account}:{day}`) shared by a daily charge and its retries.
    charge_key: Mapped[str | None] = mapped_column(String(CODE))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[AttemptStatus] = mapped_column(_enum(AttemptStatus))
    gateway_calls: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None]
    gateway_payment_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    decline_code: Mapped[str | None] = mapped_column(String(100))
    posting_id: Mapped[str | None] = mapped_column(String(CODE))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentRefundRow(Base):
    __tablename__ = "payment_refunds"

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("payment_attempts.id"), index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[RefundRecordStatus] = mapped_column(_enum(RefundRecordStatus))
    gateway_calls: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None]
    gateway_refund_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    posting_id: Mapped[str | None] = mapped_column(String(CODE))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookEventRow(Base):
    """Each gateway event id seen, so a replayed delivery is recognised and changes nothing."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime]
