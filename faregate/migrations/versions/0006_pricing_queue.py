"""The pricing queue: account-days whose taps changed since they were last priced.

Tap ingest marks each account-day a batch touches in the batch's transaction; `faregate worker`
processes claim them (FOR UPDATE SKIP LOCKED on PostgreSQL), price them and delete them.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pricing_queue",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("dirty_since", UTCDateTime(), nullable=False),
        sa.Column("retry_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "service_day", name="pk_pricing_queue"),
    )
    op.create_index("ix_pricing_queue_dirty_since", "pricing_queue", ["dirty_since"])


def downgrade() -> None:
    op.drop_index("ix_pricing_queue_dirty_since", table_name="pricing_queue")
    op.drop_table("pricing_queue")
