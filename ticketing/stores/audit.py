"""The audit log (`uow.audit`): append a line, read pages of lines. Nothing else.

There is no update or delete here, by design, and the database refuses both (triggers of
migration 0009). Lines are appended in the caller's transaction, so they commit with the
action they record.

Pages are newest first by (time, id) and continue from a cursor (keyset paging): lines
appended while someone pages never shift or repeat what they see next.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.audit import (
    Actor,
    ActorRole,
    AuditAction,
    AuditEntry,
    AuditPage,
    AuditQuery,
    Target,
    TargetKind,
)
from ticketing.db.audit_models import AuditRow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=Actor(row.actor_name, ActorRole(row.actor_role)),
        action=AuditAction(row.action),
        target=Target(TargetKind(row.target_kind), row.target_id),
        before=row.before,
        after=row.after,
        reason=row.reason,
    )


class AuditLog:
    """Append-only audit lines (see the module docstring)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, entry: AuditEntry) -> AuditEntry:
        """Store `entry` in the caller's transaction; the stored line, with its id."""
        row = AuditRow(
            at=entry.at,
            actor_name=entry.actor.name,
            actor_role=entry.actor.role.value,
            action=entry.action.value,
            target_kind=entry.target.kind.value,
            target_id=entry.target.id,
            before=None if entry.before is None else dict(entry.before),
            after=None if entry.after is None else dict(entry.after),
            reason=entry.reason,
        )
        self._session.add(row)
        await self._session.flush()
        return _entry(row)

    async def page(self, query: AuditQuery) -> AuditPage:
        """The lines `query` selects, newest first, one page of them."""
        statement = select(AuditRow)
        if query.actor is not None:
            statement = statement.where(AuditRow.actor_name == query.actor)
        if query.action is not None:
            statement = statement.where(AuditRow.action == query.action.value)
        if query.target_kind is not None:
            statement = statement.where(AuditRow.target_kind == query.target_kind.value)
        if query.target_id is not None:
            statement = statement.where(AuditRow.target_id == query.target_id)
        if query.since is not None:
            statement = statement.where(AuditRow.at >= query.since)
        if query.until is not None:
            statement = statement.where(AuditRow.at < query.until)
        position = query.position
        if position is not None:
            at = _EPOCH + timedelta(microseconds=position.at_micros)
            statement = statement.where(
                or_(AuditRow.at < at, and_(AuditRow.at == at, AuditRow.id < position.entry_id))
            )
        rows = list(
            await self._session.scalars(
                statement.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(query.limit + 1)
            )
        )
        entries = tuple(_entry(row) for row in rows[: query.limit])
        more = len(rows) > query.limit
        return AuditPage(entries, entries[-1].cursor() if more else None)
