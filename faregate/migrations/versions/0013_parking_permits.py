"""Monthly parking permits: `parking_permits` (model in `parking/db.py`), and the permit a
session entered on (`parking_sessions.permit_id`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UInt64, UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parking_permits",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=True),
        sa.Column("credential_id", UInt64(), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sold_at", UTCDateTime(), nullable=False),
        sa.Column("sold_by", sa.String(length=64), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=True),
        sa.CheckConstraint("price >= 0", name=op.f("ck_parking_permits_price")),
        sa.CheckConstraint(
            "(plate IS NULL) <> (credential_id IS NULL)", name=op.f("ck_parking_permits_one_holder")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["parking_lots.id"], name=op.f("fk_parking_permits_lot_id_parking_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_permits")),
    )
    op.create_index("ix_parking_permits_lot_month", "parking_permits", ["lot_id", "month"])
    op.create_index("ix_parking_permits_account", "parking_permits", ["account_id"])
    op.add_column("parking_sessions", sa.Column("permit_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("parking_sessions", "permit_id")
    op.drop_index("ix_parking_permits_account", table_name="parking_permits")
    op.drop_index("ix_parking_permits_lot_month", table_name="parking_permits")
    op.drop_table("parking_permits")
