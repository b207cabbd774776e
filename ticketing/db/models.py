"""The database schema as typed SQLAlchemy models (one Alembic migration creates the same).

Money is always a BIGINT count of minor units next to a 3-letter currency; times are aware UTC
(`UTCDateTime`); ledger rows are append-only (PostgreSQL triggers refuse updates and deletes of
postings and entries, and refuse any posting whose entries do not sum to zero per currency).
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ticketing.db.types import UInt64, UTCDateTime
from ticketing.ledger.holds import HoldStatus
from ticketing.riders import AccountStatus, DenyAction, PassStatus, PaymentMode
from ticketing.taps import TapKind

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only makes INTEGER PRIMARY KEY an auto-incrementing rowid alias.
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")
CODE = 200  # longest account code, posting id or hold id


def _values(enum_type: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in enum_type]


def _enum(enum_type: type[enum.Enum]) -> Enum:
    return Enum(enum_type, native_enum=False, length=16, values_callable=_values)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), int: BigInteger()}


# --- riders -------------------------------------------------------------------------------


class RiderAccountRow(Base):
    __tablename__ = "rider_accounts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rider_category: Mapped[str] = mapped_column(String(64))
    status: Mapped[AccountStatus] = mapped_column(_enum(AccountStatus))
    payment_mode: Mapped[PaymentMode] = mapped_column(_enum(PaymentMode))
    currency: Mapped[str] = mapped_column(String(3))
    overdraft_limit: Mapped[int] = mapped_column(default=0)
    debt_limit: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PassRow(Base):
    """A product bought: day pass, monthly pass."""

    __tablename__ = "passes"
    __table_args__ = (Index("ix_passes_account_validity", "account_id", "valid_until"),)

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("rider_accounts.id"))
    fare_product_id: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    price_amount: Mapped[int]
    price_currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PassStatus] = mapped_column(_enum(PassStatus))
    purchased_at: Mapped[datetime]
    posting_id: Mapped[str | None] = mapped_column(ForeignKey("postings.id"))


class CredentialRow(Base):
    __tablename__ = "credentials"

    credential_id: Mapped[int] = mapped_column(UInt64, primary_key=True, autoincrement=False)
    account_id: Mapped[str] = mapped_column(ForeignKey("rider_accounts.id"), index=True)
    pass_id: Mapped[str | None] = mapped_column(ForeignKey("passes.id"))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    issued_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class DenyListEntryRow(Base):
    """Credentials denied right now (the snapshot a new gate loads)."""

    __tablename__ = "deny_list_entries"

    credential_id: Mapped[int] = mapped_column(UInt64, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    denied_at: Mapped[datetime]


class DenyListEventRow(Base):
    """Every add and remove, numbered by a version that commits in order (see `counters`)."""

    __tablename__ = "deny_list_events"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    credential_id: Mapped[int] = mapped_column(UInt64, index=True)
    action: Mapped[DenyAction] = mapped_column(_enum(DenyAction))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class CounterRow(Base):
    """Named counters bumped with UPDATE ... RETURNING: the row lock orders concurrent writers."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int]


# --- taps, journeys, fares ----------------------------------------------------------------


class TapRow(Base):
    __tablename__ = "taps"
    __table_args__ = (
        UniqueConstraint("device_id", "device_seq"),
        Index("ix_taps_account_at", "account_id", "at"),
        Index("ix_taps_at", "at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    device_seq: Mapped[int]
    credential_id: Mapped[int] = mapped_column(UInt64)
    # No foreign key: a tap for an account we do not know yet must still be kept.
    account_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    route_id: Mapped[str] = mapped_column(String(64))
    stop_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[TapKind] = mapped_column(_enum(TapKind))
    # The TOTP step of the code the device accepted (migration 0022): the same credential and
    # step accepted at two gates of one station is a shared screenshot (settlement flags it).
    step: Mapped[int | None]
    received_at: Mapped[datetime]


class PricedDayRow(Base):
    """One pricing of an account's service day; re-pricing adds a version, never overwrites."""

    __tablename__ = "priced_days"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_day: Mapped[date] = mapped_column(Date, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body_hash: Mapped[str] = mapped_column(String(64))
    total_amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    tap_count: Mapped[int] = mapped_column(Integer)
    priced_at: Mapped[datetime]
    posting_id: Mapped[str | None] = mapped_column(ForeignKey("postings.id"))


class PricingQueueRow(Base):
    """An account-day whose taps changed since it was last priced (the pricing worker's queue).

    Ingest inserts it in the tap batch's transaction; a worker claims it (FOR UPDATE SKIP
    LOCKED on PostgreSQL), prices the day and deletes it in one transaction."""

    __tablename__ = "pricing_queue"
    __table_args__ = (Index("ix_pricing_queue_dirty_since", "dirty_since"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_day: Mapped[date] = mapped_column(Date, primary_key=True)
    dirty_since: Mapped[datetime]
    # Set when pricing the day failed (e.g. taps of an account we have no record of): it is
    # claimed again only from then on, so one bad day does not hold up the queue.
    retry_at: Mapped[datetime | None]


class PricedLegRow(Base):
    """One journey of a priced day: what it cost, who carried it, and why (pass, cap, transfer).

    Typed columns rather than a JSON blob: settlement sums and groups them, and writing them
    costs no serialisation."""

    __tablename__ = "priced_legs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "service_day", "version"],
            ["priced_days.account_id", "priced_days.service_day", "priced_days.version"],
        ),
        Index("ix_priced_legs_day", "account_id", "service_day", "version"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    service_day: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    leg_index: Mapped[int] = mapped_column(Integer)
    journey_index: Mapped[int] = mapped_column(Integer)
    operator_id: Mapped[str] = mapped_column(String(64))
    route_id: Mapped[str] = mapped_column(String(64))
    from_stop_id: Mapped[str] = mapped_column(String(64))
    to_stop_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    fare_product_id: Mapped[str | None] = mapped_column(String(100))
    amount: Mapped[int]
    undiscounted_amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    journey_id: Mapped[str] = mapped_column(String(100))
    network_id: Mapped[str | None] = mapped_column(String(64))
    incomplete: Mapped[bool]
    pass_covered: Mapped[bool]
    capped: Mapped[bool]
    joined: Mapped[bool]
    pass_product_id: Mapped[str | None] = mapped_column(String(100))
    transfer_product_id: Mapped[str | None] = mapped_column(String(100))


# --- ledger -------------------------------------------------------------------------------


class LedgerAccountRow(Base):
    """`balance` is debit-positive and kept equal to the sum of the account's entries."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (CheckConstraint("overdraft_limit >= 0", name="overdraft_limit"),)

    code: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[int] = mapped_column(default=0)
    pending_debits: Mapped[int] = mapped_column(default=0)
    overdraft_limit: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class PostingRow(Base):
    __tablename__ = "postings"
    __table_args__ = (Index("ix_postings_occurred_at", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    description: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    # Unique: a posting is reversed at most once.
    reverses: Mapped[str | None] = mapped_column(ForeignKey("postings.id"), unique=True)


class EntryRow(Base):
    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="nonzero"),
        Index("ix_entries_account", "account_code", "id"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    posting_id: Mapped[str] = mapped_column(ForeignKey("postings.id"), index=True)
    account_code: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.code"))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))


class HoldRow(Base):
    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive"),
        Index("ix_holds_debit_status", "debit_account", "status"),
    )

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    debit_account: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.code"))
    credit_account: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.code"))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[HoldStatus] = mapped_column(_enum(HoldStatus))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    posting_id: Mapped[str | None] = mapped_column(ForeignKey("postings.id"))
    captured_amount: Mapped[int | None]


def table_of(model: type[Base]) -> Table:
    """A model's Core table, typed as such (for bulk statements that skip the ORM)."""
    return Base.metadata.tables[model.__tablename__]


def all_metadata() -> MetaData:
    """`Base.metadata` after importing every `ticketing.db.*models` module (migrations and
    schema checks must see the tables other packages register on Base)."""
    package = importlib.import_module("ticketing.db")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.endswith("models"):
            importlib.import_module(f"ticketing.db.{module.name}")
    return Base.metadata
