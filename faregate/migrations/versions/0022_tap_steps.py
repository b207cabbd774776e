"""The TOTP step each accepted tap's code was at (`taps.step`, nullable: taps stored before
this revision, and devices that do not send it, have none). Settlement flags the same
credential and step accepted at two gates of one station: a screenshot passed around while
the station's shared memory was down (docs/SETTLEMENT.md §10, *Shared codes*).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("taps") as batch:
        batch.add_column(sa.Column("step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("taps") as batch:
        batch.drop_column("step")
