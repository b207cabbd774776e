"""The audit log's table (migration 0009_audit_log): one row per staff action, append-only.

Action, role and target kind are stored as their text (no CHECK list), so a new kind of action
needs no migration. Nothing in Faregate updates or deletes a row (`ticketing.stores.audit` has
no method that could); triggers refuse UPDATE and DELETE on both databases (and TRUNCATE on
PostgreSQL), so neither a bug nor a hand-written statement rewrites history. A later migration
that alters this table on SQLite (batch mode copies it to a new table) must create its
triggers again (0009's `SQLITE_GUARDS`); tests/audit/test_audit_log.py checks them at head.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import Base, SurrogateKey


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        # Newest first, overall and under each filter the log is read with.
        Index("ix_audit_log_at_id", "at", "id"),
        Index("ix_audit_log_actor_at", "actor_name", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_target_at", "target_kind", "target_id", "at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
