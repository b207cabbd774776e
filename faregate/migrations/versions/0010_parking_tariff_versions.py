"""Parking tariffs over time: `parking_tariff_versions` (model in `parking/db.py`). Each lot
already on record gets its tariff as version 1, in force from the migration on (and, as a
lot's first version, for any stay entered before it), read from the shipped tariff of the
name it records.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from parking.errors import TariffError
from parking.tariff_files import resolve_tariff
from ticketing.db.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    versions = op.create_table(
        "parking_tariff_versions",
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("effective_from", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_parking_tariff_versions_version")),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["parking_lots.id"],
            name=op.f("fk_parking_tariff_versions_lot_id_parking_lots"),
        ),
        sa.PrimaryKeyConstraint("lot_id", "version", name=op.f("pk_parking_tariff_versions")),
    )
    op.create_index(
        "ix_parking_tariff_versions_lot_from",
        "parking_tariff_versions",
        ["lot_id", "effective_from"],
    )
    now = datetime.now(UTC)
    lots = op.get_bind().execute(sa.text("SELECT id, tariff_name FROM parking_lots")).all()
    rows = []
    for lot_id, tariff_name in lots:
        try:
            document = resolve_tariff(tariff_name).read_text(encoding="utf-8")
        except (TariffError, OSError):
            continue  # not a shipped tariff: the operator schedules one (faregate lots edit)
        rows.append(
            {
                "lot_id": lot_id,
                "version": 1,
                "document": document,
                "effective_from": now,
                "created_at": now,
                "created_by": "migration-0010",
            }
        )
    if rows:
        op.bulk_insert(versions, rows)


def downgrade() -> None:
    op.drop_index("ix_parking_tariff_versions_lot_from", table_name="parking_tariff_versions")
    op.drop_table("parking_tariff_versions")
