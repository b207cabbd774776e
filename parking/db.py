"""Parking's tables, on ticketing's SQLAlchemy metadata (migration 0007_parking creates them).

- `parking_lots`: a lot, its operator (whose payable parking fees credit), capacity and
  reserved spaces, anti-passback mode, the amount held on a prepaid wallet at entry, what
  kind of place it is, where (WGS 84) and a month's permit price (migration 0011; its tariff
  is in `parking_tariff_versions`).
- `parking_sessions`: one vehicle's stay, keyed by the barrier's name for it
  (`{device}:{entry seq}`), with the account its credential belongs to, the fee, what was
  collected, its hold and posting, and its receipt number once paid.
- `parking_barrier_events`: every barrier journal record applied, keyed by (device_id, seq),
  so an upload repeated or overlapping an earlier one changes nothing.
- `parking_devices`: per barrier, the highest sequence number applied (locked while a batch
  is applied, so two uploads of one barrier apply in order, one after the other).
- `parking_unable_to_collect`: a car that left without its fee being taken: the operator's
  follow-up case, and the debt posting on the account's receivable, if any.
- `parking_tariff_versions` (migration 0010): a lot's tariffs over time, each version the
  document as uploaded and when it comes into force (`parking.tariff_versions`).
- `parking_permits` (migration 0013): monthly permits, each for one lot, month and holder (a
  plate or a credential), with what was paid and how; a session entered on one names it.
- `parking_occupancy` (migration 0015): a lot's history in 5-minute buckets: entries, exits
  and the fees of the exits in each (occupancy at a time is the running sum before it).
- `parking_inspections` (0015): each plate an inspector checked, where, when, and what the
  check found.
- `parking_barrier_commands` (0015): a barrier opened from afar (an operator's remote open):
  asked with a reason, sent on the barrier's next sync, done when its journal says so.
The unable-to-collect cases gain their follow-up (0015): open, rider notified, collected or
written off (with who and why).

Importing this module registers the tables on `ticketing.db.models.Base.metadata`;
`faregate.migrations` imports it, so schema checks see them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import CODE, Base, SurrogateKey
from ticketing.db.types import UInt64

ID = 100  # lot, device, operator and tariff names


class ParkingLotRow(Base):
    __tablename__ = "parking_lots"
    __table_args__ = (
        CheckConstraint("capacity >= 1 AND reserved >= 0 AND reserved <= capacity", name="spaces"),
        CheckConstraint("hold_amount >= 0", name="hold_amount"),
        CheckConstraint("permit_price >= 0", name="permit_price"),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    operator: Mapped[str] = mapped_column(String(ID))
    capacity: Mapped[int]
    reserved: Mapped[int]
    passback: Mapped[str] = mapped_column(String(8))
    hold_amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    updated_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(10, 7))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(10, 7))
    address: Mapped[str | None] = mapped_column(Text)
    permit_price: Mapped[int]


class ParkingSessionRow(Base):
    __tablename__ = "parking_sessions"
    __table_args__ = (
        UniqueConstraint("device_id", "entry_seq"),
        Index("ix_parking_sessions_lot_status", "lot_id", "status"),
        Index("ix_parking_sessions_account", "account_id"),
    )

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"))
    device_id: Mapped[str] = mapped_column(String(ID))
    entry_seq: Mapped[int | None]
    exit_seq: Mapped[int | None]
    credential_id: Mapped[int | None] = mapped_column(UInt64)
    account_id: Mapped[str | None] = mapped_column(String(64))
    plate: Mapped[str | None] = mapped_column(String(32))
    vehicle: Mapped[str] = mapped_column(String(16))
    entry_at: Mapped[datetime]
    exit_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(24))
    fee: Mapped[int | None]
    collected: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    tariff_id: Mapped[str | None] = mapped_column(String(ID))
    passback_violation: Mapped[bool]
    lost_credential: Mapped[bool]
    hold_id: Mapped[str | None] = mapped_column(String(CODE))
    posting_id: Mapped[str | None] = mapped_column(String(CODE))
    receipt_no: Mapped[str | None] = mapped_column(String(CODE), unique=True)
    permit_id: Mapped[str | None] = mapped_column(String(CODE))


class ParkingBarrierEventRow(Base):
    __tablename__ = "parking_barrier_events"

    device_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    session_id: Mapped[str | None] = mapped_column(String(CODE))
    reason: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]


class ParkingDeviceRow(Base):
    __tablename__ = "parking_devices"

    device_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"))
    last_seq: Mapped[int]
    updated_at: Mapped[datetime]


class UnableToCollectRow(Base):
    __tablename__ = "parking_unable_to_collect"
    __table_args__ = (CheckConstraint("amount > 0", name="positive"),)

    session_id: Mapped[str] = mapped_column(ForeignKey("parking_sessions.id"), primary_key=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"), index=True)
    account_id: Mapped[str | None] = mapped_column(String(64))
    credential_id: Mapped[int | None] = mapped_column(UInt64)
    plate: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    debt_posting_id: Mapped[str | None] = mapped_column(String(CODE))
    status: Mapped[str] = mapped_column(String(16))
    notified_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)


class ParkingTariffVersionRow(Base):
    """Version `version` of a lot's tariff: the document as uploaded (immutable), when it
    comes into force (NULL: a draft) and whether it was cancelled before it did."""

    __tablename__ = "parking_tariff_versions"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version"),
        Index("ix_parking_tariff_versions_lot_from", "lot_id", "effective_from"),
    )

    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    document: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(64))


class ParkingPermitRow(Base):
    """A month's permit: one per lot, month and holder (the id says so, so a repeated sale is
    the same row)."""

    __tablename__ = "parking_permits"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price"),
        CheckConstraint("(plate IS NULL) <> (credential_id IS NULL)", name="one_holder"),
        Index("ix_parking_permits_lot_month", "lot_id", "month"),
        Index("ix_parking_permits_account", "account_id"),
    )

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"))
    month: Mapped[date]
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    plate: Mapped[str | None] = mapped_column(String(32))
    credential_id: Mapped[int | None] = mapped_column(UInt64)
    account_id: Mapped[str | None] = mapped_column(String(64))
    price: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    sold_at: Mapped[datetime]
    sold_by: Mapped[str] = mapped_column(String(64))
    posting_id: Mapped[str | None] = mapped_column(String(CODE))


class ParkingOccupancyRow(Base):
    """A lot's 5-minute bucket: vehicles in and out, and the fees of the stays that ended."""

    __tablename__ = "parking_occupancy"
    __table_args__ = (CheckConstraint("entries >= 0 AND exits >= 0", name="counts"),)

    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    entries: Mapped[int]
    exits: Mapped[int]
    fees: Mapped[int]


class ParkingInspectionRow(Base):
    """One plate checked by an inspector at an on-street lot, and what was found."""

    __tablename__ = "parking_inspections"
    __table_args__ = (
        Index("ix_parking_inspections_lot_at", "lot_id", "at"),
        Index("ix_parking_inspections_plate_at", "plate", "at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"))
    plate: Mapped[str] = mapped_column(String(32))
    inspector: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    result: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[str | None] = mapped_column(String(CODE))
    permit_id: Mapped[str | None] = mapped_column(String(CODE))


class ParkingBarrierCommandRow(Base):
    """A barrier opened from afar: asked, sent on the barrier's syncs until its journal says
    it was done."""

    __tablename__ = "parking_barrier_commands"
    __table_args__ = (Index("ix_parking_barrier_commands_device", "device_id", "executed_at"),)

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("parking_lots.id"))
    device_id: Mapped[str] = mapped_column(String(ID))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    executed_at: Mapped[datetime | None]
    executed_seq: Mapped[int | None]
