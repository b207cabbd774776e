"""PostgreSQL: check that entries balance once per INSERT statement, not once per entry.

Revision 0001 ran a deferred row trigger for every entry, each re-summing its posting at
commit: the largest share of a busy commit. Now one statement-level trigger sums the rows the
statement inserted (a transition table) and refuses the statement if any posting's entries
in it do not net to zero per currency. Because entries can never be updated or deleted, every
statement balancing per posting means every posting balances: the guarantee is unchanged, and
stricter in one way: a posting's entries must be written in one statement, as `Ledger` does.
The deferred per-posting check that a posting has at least two entries stays.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PER_STATEMENT = (
    """
    CREATE FUNCTION ledger_check_statement_balanced() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        unbalanced record;
    BEGIN
        SELECT posting_id, currency, sum(amount) AS net INTO unbalanced
        FROM inserted GROUP BY posting_id, currency HAVING sum(amount) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'posting % does not balance: net % %',
                unbalanced.posting_id, unbalanced.net, unbalanced.currency
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER entries_balanced AFTER INSERT ON entries
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_statement_balanced()
    """,
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER entries_balanced ON entries")
    op.execute("DROP FUNCTION ledger_check_posting_balanced()")
    for statement in PER_STATEMENT:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER entries_balanced ON entries")
    op.execute("DROP FUNCTION ledger_check_statement_balanced()")
    initial = importlib.import_module("faregate.migrations.versions.0001_initial_schema")
    for statement in initial.POSTGRES_LEDGER_GUARDS[:2]:  # its per-entry function and trigger
        op.execute(statement)
