"""Records a device sent again with another body than the one stored: `device_conflicts`
(model in `ticketing/db/device_models.py`), one row per device that sent any, counting them
and keeping the last one's sequence number and time: the conflicting-records alarm.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_conflicts",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_device_conflicts_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_conflicts")),
    )


def downgrade() -> None:
    op.drop_table("device_conflicts")
