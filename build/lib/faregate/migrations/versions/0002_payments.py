"""Payments: gateway customers, payment attempts, refunds, webhook events.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


ATTEMPT_STATUS = ("pending", "unknown", "succeeded", "failed", "recovered")
REFUND_STATUS = ("pending", "unknown", "succeeded", "failed")


def upgrade() -> None:
    op.create_table(
        "gateway_customers",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=True),
        sa.Column("payment_method_id", sa.String(length=100), nullable=True),
        sa.Column("card_last4", sa.String(length=4), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_gateway_customers")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_gateway_customers_customer_id")),
    )
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("purpose", _enum("paymentpurpose", "top_up", "daily_charge"), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=True),
        sa.Column("charge_key", sa.String(length=200), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", _enum("attemptstatus", *ATTEMPT_STATUS), nullable=False),
        sa.Column("gateway_calls", sa.BigInteger(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("gateway_payment_id", sa.String(length=100), nullable=True),
        sa.Column("decline_code", sa.String(length=100), nullable=True),
        sa.Column("posting_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_attempts")),
        sa.UniqueConstraint(
            "gateway_payment_id", name=op.f("uq_payment_attempts_gateway_payment_id")
        ),
    )
    op.create_index("ix_payment_attempts_charge", "payment_attempts", ["charge_key"])
    op.create_index(
        "ix_payment_attempts_account", "payment_attempts", ["account_id", "purpose", "status"]
    )
    op.create_table(
        "payment_refunds",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("attempt_id", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", _enum("refundrecordstatus", *REFUND_STATUS), nullable=False),
        sa.Column("gateway_calls", sa.BigInteger(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("gateway_refund_id", sa.String(length=100), nullable=True),
        sa.Column("posting_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["payment_attempts.id"],
            name=op.f("fk_payment_refunds_attempt_id_payment_attempts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
        sa.UniqueConstraint("gateway_refund_id", name=op.f("uq_payment_refunds_gateway_refund_id")),
    )
    op.create_index(op.f("ix_payment_refunds_attempt_id"), "payment_refunds", ["attempt_id"])
    op.create_table(
        "webhook_events",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_webhook_events")),
    )


def downgrade() -> None:
    op.drop_table("webhook_events")
    op.drop_index(op.f("ix_payment_refunds_attempt_id"), table_name="payment_refunds")
    op.drop_table("payment_refunds")
    op.drop_index("ix_payment_attempts_account", table_name="payment_attempts")
    op.drop_index("ix_payment_attempts_charge", table_name="payment_attempts")
    op.drop_table("payment_attempts")
    op.drop_table("gateway_customers")
