"""The journal's tables besides `taps` (migration 0018_journal_quarantine): taps quarantined
because the backend could not attribute or price them (`quarantined_taps`, with their reason
and finance's resolution), and the decisions devices refused (`journal_refusals`).

Both are keyed by the device's (device_id, device_seq), as `taps` is, so a re-upload stores
nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Enum, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import Base, SurrogateKey, _enum, _values
from ticketing.db.types import UInt64
from ticketing.journal import QuarantineReason, QuarantineStatus
from ticketing.taps import TapKind


class QuarantinedTapRow(Base):
    __tablename__ = "quarantined_taps"
    __table_args__ = (
        UniqueConstraint("device_id", "device_seq"),
        Index("ix_quarantined_taps_at", "at"),
        Index("ix_quarantined_taps_status", "status"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    device_seq: Mapped[int]
    credential_id: Mapped[int] = mapped_column(UInt64)
    at: Mapped[datetime]
    route_id: Mapped[str] = mapped_column(String(64))
    stop_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[TapKind] = mapped_column(_enum(TapKind))
    deny_list_stale: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[QuarantineReason] = mapped_column(
        Enum(QuarantineReason, native_enum=False, length=32, values_callable=_values)
    )
    detail: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    status: Mapped[QuarantineStatus] = mapped_column(_enum(QuarantineStatus))
    account_id: Mapped[str | None] = mapped_column(String(64))  # attributed to
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class JournalRefusalRow(Base):
    __tablename__ = "journal_refusals"
    __table_args__ = (
        UniqueConstraint("device_id", "device_seq"),
        Index("ix_journal_refusals_at", "at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    device_seq: Mapped[int]
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[int | None] = mapped_column(UInt64)
    route_id: Mapped[str | None] = mapped_column(String(64))
    stop_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[int | None]
    deny_list_version: Mapped[int | None]
    deny_list_stale: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime]
