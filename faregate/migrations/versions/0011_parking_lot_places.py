"""Parking lots as places: what kind (`kind`), where (`latitude`, `longitude`, `address`) and
a month's permit price (`permit_price`); the lot's tariff name and version go, the versions
in `parking_tariff_versions` (0010) say it. Existing lots are car parks with no coordinates
and no permits until their operator says otherwise (`faregate lots edit`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "parking_lots",
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="car-park"),
    )
    op.add_column("parking_lots", sa.Column("latitude", sa.Numeric(10, 7), nullable=True))
    op.add_column("parking_lots", sa.Column("longitude", sa.Numeric(10, 7), nullable=True))
    op.add_column("parking_lots", sa.Column("address", sa.Text(), nullable=True))
    op.add_column(
        "parking_lots",
        sa.Column(
            "permit_price",
            sa.BigInteger(),
            sa.CheckConstraint("permit_price >= 0", name=op.f("ck_parking_lots_permit_price")),
            nullable=False,
            server_default="0",
        ),
    )
    op.drop_column("parking_lots", "tariff_name")
    op.drop_column("parking_lots", "tariff_version")


def downgrade() -> None:
    for name, length in (("tariff_name", 100), ("tariff_version", 64)):
        op.add_column(
            "parking_lots",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )
    connection = op.get_bind()
    documents = connection.execute(
        sa.text(
            "SELECT lot_id, document FROM parking_tariff_versions"
            " WHERE effective_from IS NOT NULL AND cancelled_at IS NULL"
            " ORDER BY lot_id, effective_from, version"
        )
    ).all()
    latest: dict[str, str] = {lot_id: document for lot_id, document in documents}  # noqa: C416
    for lot_id, document in latest.items():
        connection.execute(
            sa.text(
                "UPDATE parking_lots SET tariff_name = :name, tariff_version = :version"
                " WHERE id = :id"
            ),
            {
                "id": lot_id,
                "name": str(tomllib.loads(document).get("id", ""))[:100],
                "version": hashlib.sha256(document.encode()).hexdigest()[:16],
            },
        )
    for name in ("permit_price", "address", "longitude", "latitude", "kind"):
        op.drop_column("parking_lots", name)
