"""The device registry: `devices` (model in `ticketing/db/device_models.py`), one row per
registered gate, validator or barrier with its binding, the hash of its pending enrolment code
and its secret sealed under the server's device key.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "gate", "validator", "barrier", name="devicekind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("stop_id", sa.String(length=100), nullable=True),
        sa.Column("route_id", sa.String(length=100), nullable=True),
        sa.Column("lot_id", sa.String(length=100), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "revoked",
                name="registrationstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", UTCDateTime(), nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=True),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("enrolled_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'gate') = (stop_id IS NOT NULL)"
            " AND (kind = 'validator') = (route_id IS NOT NULL)"
            " AND (kind = 'barrier') = (lot_id IS NOT NULL)",
            name=op.f("ck_devices_one_place"),
        ),
        sa.CheckConstraint(
            "(status = 'active') = (secret_sealed IS NOT NULL)",
            name=op.f("ck_devices_secret_iff_active"),
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (code_hash IS NOT NULL)",
            name=op.f("ck_devices_code_iff_pending"),
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_devices")),
    )
    op.create_index("ix_devices_stop_id", "devices", ["stop_id"])
    op.create_index("ix_devices_lot_id", "devices", ["lot_id"])


def downgrade() -> None:
    op.drop_index("ix_devices_lot_id", table_name="devices")
    op.drop_index("ix_devices_stop_id", table_name="devices")
    op.drop_table("devices")
