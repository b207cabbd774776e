"""The journal's quarantine and refusals (tables of `ticketing.db.journal_models`).

Both are insert-or-skip by the device's (device_id, device_seq), so a re-uploaded batch adds
nothing; a quarantined tap changes once, from open to attributed or written off, by one
conditional UPDATE (two finance users resolving it at once: the loser sees no row changed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import among, bulk_insert
from ticketing.db.journal_models import JournalRefusalRow, QuarantinedTapRow
from ticketing.db.models import TapRow, table_of
from ticketing.journal import (
    AttributedTap,
    JournalRefusal,
    JournalTap,
    QuarantinedTap,
    QuarantineReason,
    QuarantineStatus,
    RefusalCount,
)
from ticketing.taps import TapKind

QUARANTINE = table_of(QuarantinedTapRow)
REFUSALS = table_of(JournalRefusalRow)
TAPS = table_of(TapRow)
Key = tuple[str, int]
Body = tuple[int, datetime, str, str, TapKind]  # what a tap says: credential, time, place, kind


def body(tap: JournalTap | AttributedTap) -> Body:
    return (tap.credential_id, tap.at, tap.route_id, tap.stop_id, tap.kind)


@dataclass(frozen=True, slots=True)
class Quarantining:
    """A tap going into quarantine, and why."""

    tap: JournalTap
    reason: QuarantineReason
    detail: str


def _quarantined(row: Any) -> QuarantinedTap:
    return QuarantinedTap(
        id=row.id,
        device_id=row.device_id,
        device_seq=row.device_seq,
        credential_id=row.credential_id,
        at=row.at,
        route_id=row.route_id,
        stop_id=row.stop_id,
        kind=TapKind(row.kind),
        deny_list_stale=row.deny_list_stale,
        reason=QuarantineReason(row.reason),
        detail=row.detail,
        received_at=row.received_at,
        status=QuarantineStatus(row.status),
        account_id=row.account_id,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        note=row.note,
    )


class JournalStore:
    """Quarantined taps and refused decisions (see the module docstring); never commits."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    async def quarantined_bodies(self, keys: Iterable[Key]) -> dict[Key, Body]:
        """Those of these journal keys that are in quarantine, with what they say."""
        return await self._bodies(QUARANTINE, keys)

    async def tap_bodies(self, keys: Iterable[Key]) -> dict[Key, Body]:
        """Those of these journal keys stored as taps, with what they say."""
        return await self._bodies(TAPS, keys)

    async def _bodies(self, table: Table, keys: Iterable[Key]) -> dict[Key, Body]:
        found: dict[Key, Body] = {}
        # An upload's keys are one device's: one `device_id = ? AND device_seq = ANY(?)` per
        # device, not a (device_id, device_seq) IN list of twice as many parameters as keys.
        seqs: dict[str, set[int]] = {}
        for device, seq in keys:
            seqs.setdefault(device, set()).add(seq)
        query = select(
            table.c.device_id, table.c.device_seq, table.c.credential_id, table.c.at,
            table.c.route_id, table.c.stop_id, table.c.kind,
        )  # fmt: skip
        for device_id, device_seqs in sorted(seqs.items()):
            for condition in among(self._session, table.c.device_seq, sorted(device_seqs)):
                rows = await self._session.execute(
                    query.where(table.c.device_id == device_id, condition)
                )
                found.update(
                    ((device, seq), (credential, at, route, stop, TapKind(kind)))
                    for device, seq, credential, at, route, stop, kind in rows
                )
        return found

    async def quarantine(self, items: Sequence[Quarantining]) -> set[Key]:
        """Store these taps in quarantine (open); the keys newly stored."""
        now = self._clock()
        rows = [
            {
                "device_id": q.tap.device_id,
                "device_seq": q.tap.device_seq,
                "credential_id": q.tap.credential_id,
                "at": q.tap.at,
                "route_id": q.tap.route_id,
                "stop_id": q.tap.stop_id,
                "kind": q.tap.kind.value,
                "deny_list_stale": q.tap.deny_list_stale,
                "reason": q.reason.value,
                "detail": q.detail[:2000],
                "received_at": now,
                "status": QuarantineStatus.OPEN.value,
            }
            for q in items
        ]
        inserted = await bulk_insert(
            self._session, QUARANTINE, rows, skip_conflicts=True,
            returning=["device_id", "device_seq"],
        )  # fmt: skip
        return {(device, seq) for device, seq in inserted}

    async def get(self, quarantine_id: int) -> QuarantinedTap | None:
        row = (
            await self._session.execute(select(QUARANTINE).where(QUARANTINE.c.id == quarantine_id))
        ).one_or_none()
        return None if row is None else _quarantined(row)

    async def between(
        self, start: datetime, end: datetime, status: QuarantineStatus | None = None
    ) -> list[QuarantinedTap]:
        """Quarantined taps made in [start, end), oldest first, of one status if given."""
        query = select(QUARANTINE).where(QUARANTINE.c.at >= start, QUARANTINE.c.at < end)
        if status is not None:
            query = query.where(QUARANTINE.c.status == status.value)
        rows = await self._session.execute(
            query.order_by(QUARANTINE.c.at, QUARANTINE.c.device_id, QUARANTINE.c.device_seq)
        )
        return [_quarantined(row) for row in rows]

    async def resolve(
        self,
        quarantine_id: int,
        status: QuarantineStatus,
        *,
        account_id: str | None,
        by: str,
        note: str,
    ) -> bool:
        """Mark an open quarantined tap resolved; False if it was not open (any more)."""
        result = await self._session.execute(
            update(QUARANTINE)
            .where(
                QUARANTINE.c.id == quarantine_id,
                QUARANTINE.c.status == QuarantineStatus.OPEN.value,
            )
            .values(
                status=status.value,
                account_id=account_id,
                resolved_by=by,
                resolved_at=self._clock(),
                note=note,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def open_count(self) -> int:
        query = select(func.count()).where(QUARANTINE.c.status == QuarantineStatus.OPEN.value)
        return int(await self._session.scalar(query) or 0)

    async def add_refusals(self, refusals: Sequence[JournalRefusal]) -> set[Key]:
        """Store refused decisions not stored yet; the keys newly stored."""
        now = self._clock()
        rows = [
            {
                "device_id": r.device_id,
                "device_seq": r.device_seq,
                "at": r.at,
                "reason": r.reason,
                "credential_id": r.credential_id,
                "route_id": r.route_id,
                "stop_id": r.stop_id,
                "step": r.step,
                "deny_list_version": r.deny_list_version,
                "deny_list_stale": r.deny_list_stale,
                "received_at": now,
            }
            for r in refusals
        ]
        inserted = await bulk_insert(
            self._session, REFUSALS, rows, skip_conflicts=True,
            returning=["device_id", "device_seq"],
        )  # fmt: skip
        return {(device, seq) for device, seq in inserted}

    async def refusal_counts(
        self, since: datetime, *, device_id: str | None = None, stop_id: str | None = None
    ) -> list[RefusalCount]:
        """Refusals made since `since`, counted per device, stop and reason."""
        query = select(
            REFUSALS.c.device_id, REFUSALS.c.stop_id, REFUSALS.c.reason, func.count()
        ).where(REFUSALS.c.at >= since)
        if device_id is not None:
            query = query.where(REFUSALS.c.device_id == device_id)
        if stop_id is not None:
            query = query.where(REFUSALS.c.stop_id == stop_id)
        rows = await self._session.execute(
            query.group_by(REFUSALS.c.device_id, REFUSALS.c.stop_id, REFUSALS.c.reason).order_by(
                REFUSALS.c.device_id, REFUSALS.c.stop_id, REFUSALS.c.reason
            )
        )
        return [RefusalCount(device, stop, reason, int(n)) for device, stop, reason, n in rows]
