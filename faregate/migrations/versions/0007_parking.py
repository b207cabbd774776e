"""Parking: lots, sessions, applied barrier events, per-barrier upload positions, and the
unable-to-collect cases (models in `parking/db.py`).

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UInt64, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parking_lots",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("capacity", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("tariff_name", sa.String(length=100), nullable=False),
        sa.Column("tariff_version", sa.String(length=64), nullable=False),
        sa.Column("passback", sa.String(length=8), nullable=False),
        sa.Column("hold_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "capacity >= 1 AND reserved >= 0 AND reserved <= capacity",
            name=op.f("ck_parking_lots_spaces"),
        ),
        sa.CheckConstraint("hold_amount >= 0", name=op.f("ck_parking_lots_hold_amount")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_lots")),
    )
    op.create_table(
        "parking_sessions",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=True),
        sa.Column("exit_seq", sa.BigInteger(), nullable=True),
        sa.Column("credential_id", UInt64(), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("plate", sa.String(length=32), nullable=True),
        sa.Column("vehicle", sa.String(length=16), nullable=False),
        sa.Column("entry_at", UTCDateTime(), nullable=False),
        sa.Column("exit_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("collected", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tariff_id", sa.String(length=100), nullable=True),
        sa.Column("passback_violation", sa.Boolean(), nullable=False),
        sa.Column("lost_credential", sa.Boolean(), nullable=False),
        sa.Column("hold_id", sa.String(length=200), nullable=True),
        sa.Column("posting_id", sa.String(length=200), nullable=True),
        sa.Column("receipt_no", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["parking_lots.id"], name=op.f("fk_parking_sessions_lot_id_parking_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_sessions")),
        sa.UniqueConstraint(
            "device_id", "entry_seq", name=op.f("uq_parking_sessions_device_id_entry_seq")
        ),
        sa.UniqueConstraint("receipt_no", name=op.f("uq_parking_sessions_receipt_no")),
    )
    op.create_index("ix_parking_sessions_lot_status", "parking_sessions", ["lot_id", "status"])
    op.create_index("ix_parking_sessions_account", "parking_sessions", ["account_id"])
    op.create_table(
        "parking_barrier_events",
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["parking_lots.id"],
            name=op.f("fk_parking_barrier_events_lot_id_parking_lots"),
        ),
        sa.PrimaryKeyConstraint("device_id", "seq", name=op.f("pk_parking_barrier_events")),
    )
    op.create_table(
        "parking_devices",
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["parking_lots.id"], name=op.f("fk_parking_devices_lot_id_parking_lots")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_parking_devices")),
    )
    op.create_table(
        "parking_unable_to_collect",
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("credential_id", UInt64(), nullable=True),
        sa.Column("plate", sa.String(length=32), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("debt_posting_id", sa.String(length=200), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_parking_unable_to_collect_positive")),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["parking_lots.id"],
            name=op.f("fk_parking_unable_to_collect_lot_id_parking_lots"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["parking_sessions.id"],
            name=op.f("fk_parking_unable_to_collect_session_id_parking_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_parking_unable_to_collect")),
    )
    op.create_index(
        op.f("ix_parking_unable_to_collect_lot_id"), "parking_unable_to_collect", ["lot_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_parking_unable_to_collect_lot_id"), "parking_unable_to_collect")
    op.drop_table("parking_unable_to_collect")
    op.drop_table("parking_devices")
    op.drop_table("parking_barrier_events")
    op.drop_index("ix_parking_sessions_account", "parking_sessions")
    op.drop_index("ix_parking_sessions_lot_status", "parking_sessions")
    op.drop_table("parking_sessions")
    op.drop_table("parking_lots")
