"""Settlement runs keep their own record on the day's row: the reconcile stage's figures
(`reconciliation`, until now a pseudo-exception of kind `_run` in `settlement_exceptions`)
and the error of a run that failed (`error`, with `failed_at`), so a day shows why it stopped
and the exceptions table holds exceptions only.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-12
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_RECORD = "_run"


def upgrade() -> None:
    with op.batch_alter_table("settlement_days") as batch:
        batch.add_column(sa.Column("reconciliation", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("failed_at", UTCDateTime(), nullable=True))
    bind = op.get_bind()
    runs = bind.execute(
        sa.text("SELECT first_seen, detail FROM settlement_exceptions WHERE kind = :kind"),
        {"kind": RUN_RECORD},
    ).all()
    for day, detail in runs:
        value = detail if isinstance(detail, dict) else json.loads(detail)
        bind.execute(
            sa.text("UPDATE settlement_days SET reconciliation = :figures WHERE day = :day"),
            {"figures": json.dumps(value), "day": day},
        )
    bind.execute(
        sa.text("DELETE FROM settlement_exceptions WHERE kind = :kind"), {"kind": RUN_RECORD}
    )


def downgrade() -> None:
    bind = op.get_bind()
    runs = bind.execute(
        sa.text("SELECT day, reconciliation FROM settlement_days WHERE reconciliation IS NOT NULL")
    ).all()
    for day, figures in runs:
        value = figures if isinstance(figures, dict) else json.loads(figures)
        bind.execute(
            sa.text(
                "INSERT INTO settlement_exceptions (key, kind, currency, amount, suspense,"
                " record_day, first_seen, resolved_on, detail) VALUES (:key, :kind, 'VND', 0, 0,"
                " :day, :day, :day, :detail)"
            ),
            {
                "key": f"reconcile:{day}",
                "kind": RUN_RECORD,
                "day": day,
                "detail": json.dumps(value),
            },
        )
    with op.batch_alter_table("settlement_days") as batch:
        batch.drop_column("failed_at")
        batch.drop_column("error")
        batch.drop_column("reconciliation")
