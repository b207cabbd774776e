"""Settlement: settled days (checkpoints, watermarks, digest), settled account-day versions,
exceptions (suspense), adjustments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SURROGATE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "settlement_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("closed_by", sa.String(100), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=False),
        sa.Column("tap_watermark", sa.BigInteger(), nullable=False),
        sa.Column("posting_watermark", sa.BigInteger(), nullable=False),
        sa.Column("reconciled_until", UTCDateTime(), nullable=True),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=True),
        sa.Column("settled_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_settlement_days"),
    )
    op.create_table(
        "settlement_account_days",
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settled_in", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("service_day", "account_id", name="pk_settlement_account_days"),
    )
    op.create_table(
        "settlement_exceptions",
        sa.Column("id", SURROGATE, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("suspense", sa.BigInteger(), nullable=False),
        sa.Column("record_day", sa.Date(), nullable=False),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_settlement_exceptions"),
        sa.UniqueConstraint("key", name="uq_settlement_exceptions_key"),
    )
    op.create_index("ix_settlement_exceptions_open", "settlement_exceptions", ["resolved_on"])
    op.create_table(
        "settlement_adjustments",
        sa.Column("id", SURROGATE, primary_key=True, autoincrement=True),
        sa.Column("original_day", sa.Date(), nullable=False),
        sa.Column("settled_in", sa.Date(), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_settlement_adjustments"),
        sa.UniqueConstraint(
            "account_id",
            "original_day",
            "version",
            name="uq_settlement_adjustments_account_id_original_day_version",
        ),
    )
    op.create_index(
        "ix_settlement_adjustments_settled_in", "settlement_adjustments", ["settled_in"]
    )


def downgrade() -> None:
    op.drop_index("ix_settlement_adjustments_settled_in", "settlement_adjustments")
    op.drop_table("settlement_adjustments")
    op.drop_index("ix_settlement_exceptions_open", "settlement_exceptions")
    op.drop_table("settlement_exceptions")
    op.drop_table("settlement_account_days")
    op.drop_table("settlement_days")
