"""Problems riders report on their trips (migration 0020_trip_cases): one row per case, its
trip (day, start, route, the fare it cost) and finance's decision."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import Base


class TripCaseRow(Base):
    __tablename__ = "trip_cases"
    __table_args__ = (
        Index("ix_trip_cases_account", "account_id", "opened_at"),
        Index("ix_trip_cases_status", "status", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    service_day: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime]
    route_id: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[str] = mapped_column(String(64))
    fare: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    refunded: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(500))
