"""The journal's quarantine and refusals (models in ticketing/db/journal_models.py):
`quarantined_taps` holds taps the backend could not attribute or price, with their reason and
finance's resolution; `journal_refusals` the decisions devices refused.

Taps stored before this revision for an account the backend has no record of (the device used
to name the account) move into quarantine as unknown-credential, and their days leave the
pricing queue: one such tap used to fail every settlement.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UInt64, UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ORPHANS = "SELECT id FROM rider_accounts"


def upgrade() -> None:
    op.create_table(
        "quarantined_taps",
        sa.Column("id", _KEY, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_seq", sa.BigInteger(), nullable=False),
        sa.Column("credential_id", UInt64(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("stop_id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "entry", "exit", "board", "alight", name="tapkind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("deny_list_stale", sa.Boolean(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "unknown-credential",
                "revoked-credential",
                "stale-deny-list",
                "unknown-stop",
                "unknown-route",
                "wrong-place",
                "implausible-time",
                name="quarantinereason",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "attributed",
                "written_off",
                name="quarantinestatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_taps")),
        sa.UniqueConstraint(
            "device_id", "device_seq", name=op.f("uq_quarantined_taps_device_id_device_seq")
        ),
    )
    op.create_index(op.f("ix_quarantined_taps_at"), "quarantined_taps", ["at"])
    op.create_index(op.f("ix_quarantined_taps_status"), "quarantined_taps", ["status"])
    op.create_table(
        "journal_refusals",
        sa.Column("id", _KEY, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_seq", sa.BigInteger(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("credential_id", UInt64(), nullable=True),
        sa.Column("route_id", sa.String(length=64), nullable=True),
        sa.Column("stop_id", sa.String(length=64), nullable=True),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.Column("deny_list_version", sa.BigInteger(), nullable=True),
        sa.Column("deny_list_stale", sa.Boolean(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_refusals")),
        sa.UniqueConstraint(
            "device_id", "device_seq", name=op.f("uq_journal_refusals_device_id_device_seq")
        ),
    )
    op.create_index(op.f("ix_journal_refusals_at"), "journal_refusals", ["at"])
    op.execute(
        "INSERT INTO quarantined_taps (device_id, device_seq, credential_id, at, route_id,"
        " stop_id, kind, deny_list_stale, reason, detail, received_at, status)"
        " SELECT device_id, device_seq, credential_id, at, route_id, stop_id, kind, false,"
        " 'unknown-credential', 'stored for account ' || account_id || ', which does not exist',"
        f" received_at, 'open' FROM taps WHERE account_id NOT IN ({_ORPHANS})"
    )
    op.execute(f"DELETE FROM pricing_queue WHERE account_id NOT IN ({_ORPHANS})")
    op.execute(f"DELETE FROM taps WHERE account_id NOT IN ({_ORPHANS})")


def downgrade() -> None:
    op.drop_index(op.f("ix_journal_refusals_at"), table_name="journal_refusals")
    op.drop_table("journal_refusals")
    op.drop_index(op.f("ix_quarantined_taps_status"), table_name="quarantined_taps")
    op.drop_index(op.f("ix_quarantined_taps_at"), table_name="quarantined_taps")
    op.drop_table("quarantined_taps")
