"""Tables of daily settlement (migrations 0005, 0014, 0016): settled days and their checkpoints, the
account-day versions each day settled, reconciliation exceptions in suspense, adjustments.

A settled day's row keeps its figures (JSON) and digest: they are written once, when the day
is reported, and never changed (later taps become adjustments of a later run).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import CODE, Base, SurrogateKey


class SettlementDayRow(Base):
    """One service day's settlement: its state, the last stage done, and what was closed."""

    __tablename__ = "settlement_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # ticketing.settlement.states.DayState
    stage: Mapped[str] = mapped_column(String(16))  # the last Stage completed
    closed_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime]
    tap_watermark: Mapped[int]  # the highest tap id stored when the day was closed
    posting_watermark: Mapped[int]  # the highest ledger entry id when the day was closed
    reconciled_until: Mapped[datetime | None]  # end of the gateway period this run listed
    digest: Mapped[str | None] = mapped_column(String(64))
    figures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    settled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # What the reconcile stage found (ReconciliationFigures), for the stages after it (0014).
    reconciliation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # why the last run stopped, until retried
    failed_at: Mapped[datetime | None]
    # Four eyes and the run off the request (0016): who prepared and approved the day, the
    # figures shown for review, the work waiting for a runner and its progress.
    prepared_by: Mapped[str | None] = mapped_column(String(100))
    prepared_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    review: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    job: Mapped[str | None] = mapped_column(String(16), index=True)  # settlement.states.Job
    job_stage: Mapped[str | None] = mapped_column(String(16))  # the Stage running
    progress_done: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    progress_total: Mapped[int] = mapped_column(Integer, server_default="0", default=0)


class SettledAccountDayRow(Base):
    """The version of each account-day a settled day counted (later versions: adjustments)."""

    __tablename__ = "settlement_account_days"

    service_day: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    settled_in: Mapped[date] = mapped_column(Date)  # the run that counted this version


class SettlementExceptionRow(Base):
    """An exception a run reported: reconciliation lines (suspense) and settlement exceptions
    (unpriced legs, uncollected days). Open until `resolved_on`."""

    __tablename__ = "settlement_exceptions"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_settlement_exceptions_open", "resolved_on"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(CODE))
    kind: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    suspense: Mapped[int]
    record_day: Mapped[date] = mapped_column(Date)
    first_seen: Mapped[date] = mapped_column(Date)
    resolved_on: Mapped[date | None] = mapped_column(Date)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class SettlementAdjustmentRow(Base):
    """A change to an already settled account-day, settled by a later run."""

    __tablename__ = "settlement_adjustments"
    __table_args__ = (UniqueConstraint("account_id", "original_day", "version"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    original_day: Mapped[date] = mapped_column(Date)
    settled_in: Mapped[date] = mapped_column(Date, index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    previous_version: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int]  # new total less the settled one (may be negative)
    currency: Mapped[str] = mapped_column(String(3))
