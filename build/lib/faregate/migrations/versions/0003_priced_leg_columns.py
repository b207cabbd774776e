"""Priced legs: the JSON `details` blob becomes typed columns.

Settlement groups legs by network and flags, and writing a JSON document per leg was the
largest single cost of recording a priced day. Existing rows keep everything they said: the
values move from `details` into the new columns before it is dropped.

Days recorded before this revision carry a body hash of the earlier scheme, so re-pricing one
records a new version even when its fares are unchanged (a reversal and an equal posting).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLAGS = ("incomplete", "pass_covered", "capped", "joined")
_TEXTS = ("network_id", "pass_product_id", "transfer_product_id")


def _legs() -> sa.TableClause:
    return sa.table(
        "priced_legs",
        sa.column("id", sa.BigInteger),
        sa.column("details", sa.JSON),
        sa.column("journey_id", sa.String),
        *(sa.column(flag, sa.Boolean) for flag in _FLAGS),
        *(sa.column(name, sa.String) for name in _TEXTS),
    )


def upgrade() -> None:
    with op.batch_alter_table("priced_legs") as batch:
        batch.add_column(sa.Column("journey_id", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("network_id", sa.String(64), nullable=True))
        for flag in _FLAGS:
            batch.add_column(
                sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false())
            )
        batch.add_column(sa.Column("pass_product_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("transfer_product_id", sa.String(100), nullable=True))

    legs = _legs()
    bind = op.get_bind()
    for leg_id, details in bind.execute(sa.select(legs.c.id, legs.c.details)).all():
        values: dict[str, Any] = details
        bind.execute(
            legs.update()
            .where(legs.c.id == leg_id)
            .values(
                journey_id=values.get("journey_id") or str(leg_id),
                **{flag: bool(values.get(flag)) for flag in _FLAGS},
                **{name: values.get(name) for name in _TEXTS},
            )
        )

    with op.batch_alter_table("priced_legs") as batch:
        batch.alter_column("journey_id", server_default=None)
        for flag in _FLAGS:
            batch.alter_column(flag, server_default=None)
        batch.drop_column("details")


def downgrade() -> None:
    with op.batch_alter_table("priced_legs") as batch:
        batch.add_column(sa.Column("details", sa.JSON(), nullable=False, server_default="{}"))

    legs = _legs()
    bind = op.get_bind()
    names = ("journey_id", *_FLAGS, *_TEXTS)
    rows = bind.execute(sa.select(legs.c.id, *(legs.c[name] for name in names))).all()
    for leg_id, *values in rows:
        details = dict(zip(names, values, strict=True))
        bind.execute(legs.update().where(legs.c.id == leg_id).values(details=details))

    with op.batch_alter_table("priced_legs") as batch:
        batch.alter_column("details", server_default=None)
        for name in (*_TEXTS[::-1], *_FLAGS[::-1], "journey_id"):
            batch.drop_column(name)
