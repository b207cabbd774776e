"""The latest heartbeat of each device: `device_heartbeats` (model in
`ticketing/db/device_models.py`), one row per device, replaced by each heartbeat it sends.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_heartbeats",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("device_time", UTCDateTime(), nullable=True),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("config_version", sa.String(length=64), nullable=True),
        sa.Column("key_set_version", sa.String(length=64), nullable=True),
        sa.Column("deny_list_version", sa.BigInteger(), nullable=True),
        sa.Column("records_waiting", sa.BigInteger(), nullable=False),
        sa.Column("oldest_waiting_seconds", sa.BigInteger(), nullable=True),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_device_heartbeats_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("device_heartbeats")
