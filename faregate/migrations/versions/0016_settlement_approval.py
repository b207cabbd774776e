"""Settlement runs off the request, with four eyes (issue 19): who prepared a day and when,
who approved it and when, the figures shown for review, the work waiting for a runner (`job`:
prepare or approve) and its progress (the stage running, done of total). Model in
`ticketing/db/settlement_models.py`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("settlement_days") as batch:
        batch.add_column(sa.Column("prepared_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("prepared_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("approved_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("review", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("job", sa.String(16), nullable=True))
        batch.add_column(sa.Column("job_stage", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("progress_done", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("progress_total", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index("ix_settlement_days_job", "settlement_days", ["job"])


def downgrade() -> None:
    op.drop_index("ix_settlement_days_job", table_name="settlement_days")
    with op.batch_alter_table("settlement_days") as batch:
        for column in (
            "progress_total", "progress_done", "job_stage", "job", "review",
            "approved_at", "approved_by", "prepared_at", "prepared_by",
        ):  # fmt: skip
            batch.drop_column(column)
