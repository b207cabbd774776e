"""VNPay top-ups: `vnpay_orders` (model in `ticketing/db/vnpay_models.py`), one row per order
sent to VNPay and its outcome.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vnpay_orders",
        sa.Column("txn_ref", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("response_code", sa.String(length=8), nullable=True),
        sa.Column("transaction_no", sa.String(length=40), nullable=True),
        sa.Column("bank_code", sa.String(length=20), nullable=True),
        sa.Column("pay_date", sa.String(length=14), nullable=True),
        sa.PrimaryKeyConstraint("txn_ref", name=op.f("pk_vnpay_orders")),
    )
    op.create_index("ix_vnpay_orders_account", "vnpay_orders", ["account_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_vnpay_orders_account", table_name="vnpay_orders")
    op.drop_table("vnpay_orders")
