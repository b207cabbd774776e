"""Riders sign up with a phone number or an e-mail address and a name in any script, and reset
a forgotten password with a one-time code: `api_users.display_name` and
`password_reset_codes` (models in ticketing/db/users_models.py).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_users") as table:
        table.add_column(sa.Column("display_name", sa.String(length=100), nullable=True))
    op.create_table(
        "password_reset_codes",
        sa.Column("id", _KEY, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["username"],
            ["api_users.username"],
            name=op.f("fk_password_reset_codes_username_api_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_codes")),
    )
    op.create_index(op.f("ix_password_reset_codes_username"), "password_reset_codes", ["username"])


def downgrade() -> None:
    op.drop_index(op.f("ix_password_reset_codes_username"), table_name="password_reset_codes")
    op.drop_table("password_reset_codes")
    with op.batch_alter_table("api_users") as table:
        table.drop_column("display_name")
