"""Parking operations: a lot's history in 5-minute buckets (`parking_occupancy`, built here
from the sessions on record), plate checks (`parking_inspections`), barriers opened from afar
(`parking_barrier_commands`), and the unable-to-collect cases' follow-up (status, when the
rider was told, who resolved it and how). Models in `parking/db.py`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKET = timedelta(minutes=5)  # as parking.occupancy_history.BUCKET, which may not change
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bucket(at: datetime) -> datetime:
    return _EPOCH + (at - _EPOCH) // BUCKET * BUCKET


def upgrade() -> None:
    occupancy = op.create_table(
        "parking_occupancy",
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("bucket_start", UTCDateTime(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("exits", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("entries >= 0 AND exits >= 0", name=op.f("ck_parking_occupancy_counts")),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["parking_lots.id"], name=op.f("fk_parking_occupancy_lot_id_parking_lots")
        ),
        sa.PrimaryKeyConstraint("lot_id", "bucket_start", name=op.f("pk_parking_occupancy")),
    )
    op.create_table(
        "parking_inspections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=False),
        sa.Column("inspector", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("permit_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["parking_lots.id"], name=op.f("fk_parking_inspections_lot_id_parking_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_inspections")),
    )
    op.create_index("ix_parking_inspections_lot_at", "parking_inspections", ["lot_id", "at"])
    op.create_index("ix_parking_inspections_plate_at", "parking_inspections", ["plate", "at"])
    op.create_table(
        "parking_barrier_commands",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("executed_at", UTCDateTime(), nullable=True),
        sa.Column("executed_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["parking_lots.id"],
            name=op.f("fk_parking_barrier_commands_lot_id_parking_lots"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_barrier_commands")),
    )
    op.create_index(
        "ix_parking_barrier_commands_device",
        "parking_barrier_commands",
        ["device_id", "executed_at"],
    )
    op.add_column(
        "parking_unable_to_collect",
        sa.Column("status", sa.String(length=16), nullable=False, server_default="open"),
    )
    for name in ("notified_at", "resolved_at"):
        op.add_column("parking_unable_to_collect", sa.Column(name, UTCDateTime(), nullable=True))
    op.add_column(
        "parking_unable_to_collect",
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
    )
    op.add_column("parking_unable_to_collect", sa.Column("resolution", sa.Text(), nullable=True))

    # The history of the stays already on record: each entry and exit in its bucket.
    stays = sa.table(
        "parking_sessions",
        sa.column("lot_id", sa.String()),
        sa.column("entry_at", UTCDateTime()),
        sa.column("exit_at", UTCDateTime()),
        sa.column("fee", sa.BigInteger()),
    )
    buckets: dict[tuple[str, datetime], list[int]] = {}
    for lot_id, entry_at, exit_at, fee in op.get_bind().execute(sa.select(stays)):
        buckets.setdefault((lot_id, _bucket(entry_at)), [0, 0, 0])[0] += 1
        if exit_at is not None:
            counts = buckets.setdefault((lot_id, _bucket(exit_at)), [0, 0, 0])
            counts[1] += 1
            counts[2] += fee or 0
    if buckets:
        op.bulk_insert(
            occupancy,
            [
                {"lot_id": lot, "bucket_start": start, "entries": n[0], "exits": n[1], "fees": n[2]}
                for (lot, start), n in sorted(buckets.items())
            ],
        )


def downgrade() -> None:
    for name in ("resolution", "resolved_by", "resolved_at", "notified_at", "status"):
        op.drop_column("parking_unable_to_collect", name)
    op.drop_index("ix_parking_barrier_commands_device", table_name="parking_barrier_commands")
    op.drop_table("parking_barrier_commands")
    op.drop_index("ix_parking_inspections_plate_at", table_name="parking_inspections")
    op.drop_index("ix_parking_inspections_lot_at", table_name="parking_inspections")
    op.drop_table("parking_inspections")
    op.drop_table("parking_occupancy")
