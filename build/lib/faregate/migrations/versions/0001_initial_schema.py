"""Initial schema: riders, passes, credentials, deny list, taps, priced days, ledger.

On PostgreSQL the ledger is also guarded in the database: a deferred constraint trigger
refuses, at commit, any posting whose entries do not sum to zero per currency (or that has
fewer than two entries), and postings and entries refuse UPDATE and DELETE.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.db.types import UInt64, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Deferred to commit so a posting and its entries can be inserted in any order inside one
# transaction; a row-level constraint trigger is the only kind PostgreSQL can defer.
POSTGRES_LEDGER_GUARDS = (
    """
    CREATE FUNCTION ledger_check_posting_balanced() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        unbalanced record;
    BEGIN
        SELECT currency, sum(amount) AS net INTO unbalanced
        FROM entries WHERE posting_id = NEW.posting_id
        GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'posting % does not balance: net % %',
                NEW.posting_id, unbalanced.net, unbalanced.currency
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER entries_balanced
    AFTER INSERT ON entries DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_posting_balanced()
    """,
    """
    CREATE FUNCTION ledger_check_posting_has_entries() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT count(*) FROM entries WHERE posting_id = NEW.id) < 2 THEN
            RAISE EXCEPTION 'posting % has fewer than two entries', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER postings_have_entries
    AFTER INSERT ON postings DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_posting_has_entries()
    """,
    """
    CREATE FUNCTION ledger_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: post a reversal instead', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
    """
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
)
POSTGRES_LEDGER_GUARDS_DROP = (
    "DROP TRIGGER IF EXISTS postings_append_only ON postings",
    "DROP TRIGGER IF EXISTS entries_append_only ON entries",
    "DROP TRIGGER IF EXISTS postings_have_entries ON postings",
    "DROP TRIGGER IF EXISTS entries_balanced ON entries",
    "DROP FUNCTION IF EXISTS ledger_refuse_change()",
    "DROP FUNCTION IF EXISTS ledger_check_posting_has_entries()",
    "DROP FUNCTION IF EXISTS ledger_check_posting_balanced()",
)


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "deny_list_entries",
        sa.Column("credential_id", UInt64(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("denied_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_deny_list_entries")),
    )
    op.create_table(
        "deny_list_events",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("credential_id", UInt64(), nullable=False),
        sa.Column(
            "action",
            sa.Enum("add", "remove", name="denyaction", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_deny_list_events")),
    )
    op.create_index(
        op.f("ix_deny_list_events_credential_id"), "deny_list_events", ["credential_id"]
    )

    op.create_table(
        "ledger_accounts",
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("pending_debits", sa.BigInteger(), nullable=False),
        sa.Column("overdraft_limit", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("overdraft_limit >= 0", name=op.f("ck_ledger_accounts_overdraft_limit")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_ledger_accounts")),
    )
    op.create_table(
        "postings",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("reverses", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["reverses"], ["postings.id"], name=op.f("fk_postings_reverses_postings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
        sa.UniqueConstraint("reverses", name=op.f("uq_postings_reverses")),
    )
    op.create_index("ix_postings_occurred_at", "postings", ["occurred_at"])

    op.create_table(
        "rider_accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("rider_category", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "debt_recovery",
                "closed",
                name="accountstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "payment_mode",
            sa.Enum(
                "prepaid_wallet", "postpaid_card", name="paymentmode", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("overdraft_limit", sa.BigInteger(), nullable=False),
        sa.Column("debt_limit", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rider_accounts")),
    )
    op.create_table(
        "taps",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_seq", sa.BigInteger(), nullable=False),
        sa.Column("credential_id", UInt64(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
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
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taps")),
        sa.UniqueConstraint("device_id", "device_seq", name=op.f("uq_taps_device_id_device_seq")),
    )
    op.create_index("ix_taps_account_at", "taps", ["account_id", "at"])
    op.create_index("ix_taps_at", "taps", ["at"])

    op.create_table(
        "entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("posting_id", sa.String(length=200), nullable=False),
        sa.Column("account_code", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_entries_nonzero")),
        sa.ForeignKeyConstraint(
            ["account_code"],
            ["ledger_accounts.code"],
            name=op.f("fk_entries_account_code_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_entries_posting_id_postings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
    )
    op.create_index("ix_entries_account", "entries", ["account_code", "id"])
    op.create_index(op.f("ix_entries_posting_id"), "entries", ["posting_id"])

    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("debit_account", sa.String(length=200), nullable=False),
        sa.Column("credit_account", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "captured", "voided", name="holdstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("posting_id", sa.String(length=200), nullable=True),
        sa.Column("captured_amount", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_holds_positive")),
        sa.ForeignKeyConstraint(
            ["credit_account"],
            ["ledger_accounts.code"],
            name=op.f("fk_holds_credit_account_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account"],
            ["ledger_accounts.code"],
            name=op.f("fk_holds_debit_account_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_holds_posting_id_postings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index("ix_holds_debit_status", "holds", ["debit_account", "status"])

    op.create_table(
        "passes",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("fare_product_id", sa.String(length=100), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("price_currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active", "refunded", "cancelled", name="passstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("purchased_at", UTCDateTime(), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["rider_accounts.id"], name=op.f("fk_passes_account_id_rider_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_passes_posting_id_postings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passes")),
    )
    op.create_index("ix_passes_account_validity", "passes", ["account_id", "valid_until"])

    op.create_table(
        "priced_days",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tap_count", sa.Integer(), nullable=False),
        sa.Column("priced_at", UTCDateTime(), nullable=False),
        sa.Column("posting_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name=op.f("fk_priced_days_posting_id_postings")
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "service_day", "version", name=op.f("pk_priced_days")
        ),
    )
    op.create_table(
        "credentials",
        sa.Column("credential_id", UInt64(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("pass_id", sa.String(length=200), nullable=True),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["rider_accounts.id"],
            name=op.f("fk_credentials_account_id_rider_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["passes.id"], name=op.f("fk_credentials_pass_id_passes")
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_credentials")),
    )
    op.create_index(op.f("ix_credentials_account_id"), "credentials", ["account_id"])

    op.create_table(
        "priced_legs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("leg_index", sa.Integer(), nullable=False),
        sa.Column("journey_index", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("from_stop_id", sa.String(length=64), nullable=False),
        sa.Column("to_stop_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("fare_product_id", sa.String(length=100), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("undiscounted_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id", "service_day", "version"],
            ["priced_days.account_id", "priced_days.service_day", "priced_days.version"],
            name=op.f("fk_priced_legs_account_id_priced_days"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_priced_legs")),
    )
    op.create_index("ix_priced_legs_day", "priced_legs", ["account_id", "service_day", "version"])

    op.bulk_insert(
        sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
        [{"name": "deny_list_version", "value": 0}],
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_LEDGER_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_LEDGER_GUARDS_DROP:
            op.execute(statement)
    op.drop_index("ix_priced_legs_day", table_name="priced_legs")

    op.drop_table("priced_legs")
    op.drop_index(op.f("ix_credentials_account_id"), table_name="credentials")

    op.drop_table("credentials")
    op.drop_table("priced_days")
    op.drop_index("ix_passes_account_validity", table_name="passes")

    op.drop_table("passes")
    op.drop_index("ix_holds_debit_status", table_name="holds")

    op.drop_table("holds")
    op.drop_index(op.f("ix_entries_posting_id"), table_name="entries")
    op.drop_index("ix_entries_account", table_name="entries")

    op.drop_table("entries")
    op.drop_index("ix_taps_at", table_name="taps")
    op.drop_index("ix_taps_account_at", table_name="taps")

    op.drop_table("taps")
    op.drop_table("rider_accounts")
    op.drop_index("ix_postings_occurred_at", table_name="postings")

    op.drop_table("postings")
    op.drop_table("ledger_accounts")
    op.drop_index(op.f("ix_deny_list_events_credential_id"), table_name="deny_list_events")

    op.drop_table("deny_list_events")
    op.drop_table("deny_list_entries")
    op.drop_table("counters")
