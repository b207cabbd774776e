"""Tap storage: idempotent batch ingest keyed by (device_id, device_seq), and reads for pricing.

A device re-uploading a batch (after a lost acknowledgement) changes nothing. A record re-sent
under a known key with a different body is not stored over the first: it is reported in
`IngestResult.conflicts` so the caller can flag the device.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import among, bulk_insert, chunks
from ticketing.db.models import TapRow, table_of
from ticketing.taps import Tap, TapKind, TapRecord

TAPS = table_of(TapRow)
TAP_FIELDS = (
    TAPS.c.device_id,
    TAPS.c.device_seq,
    TAPS.c.credential_id,
    TAPS.c.account_id,
    TAPS.c.at,
    TAPS.c.route_id,
    TAPS.c.stop_id,
    TAPS.c.kind,
    TAPS.c.step,
)
STREAM_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class IngestResult:
    """`inserted + duplicates == len(batch)`; `conflicts` lists duplicate keys whose body
    differs from the stored tap (the stored one is kept)."""

    inserted: int
    duplicates: int
    conflicts: tuple[tuple[str, int], ...] = ()


def _row(tap: TapRecord, received_at: datetime) -> dict[str, Any]:
    return {
        "device_id": tap.device_id,
        "device_seq": tap.device_seq,
        "credential_id": tap.credential_id,
        "account_id": tap.account_id,
        "at": tap.at,
        "route_id": tap.route_id,
        "stop_id": tap.stop_id,
        "kind": tap.kind.value,
        "step": tap.step,
        "received_at": received_at,
    }


def _fields(tap: TapRecord) -> tuple[Any, ...]:
    """A tap's body, to compare a repeat with the stored one whatever type carries it. Not
    its step: a tap stored before migration 0022 has none, and its re-upload is no conflict."""
    return (
        tap.device_id,
        tap.device_seq,
        tap.credential_id,
        tap.account_id,
        tap.at,
        tap.route_id,
        tap.stop_id,
        tap.kind,
    )


def _tap(row: Any) -> Tap:
    return Tap(
        row.device_id,
        row.device_seq,
        row.credential_id,
        row.account_id,
        row.at,
        row.route_id,
        row.stop_id,
        TapKind(row.kind),
        row.step,
    )


class TapStore:
    """Taps as devices uploaded them (see the module docstring)."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    async def ingest(self, taps: Sequence[TapRecord]) -> IngestResult:
        """Store new taps in bulk (INSERT ... ON CONFLICT DO NOTHING); count the rest."""
        if not taps:
            return IngestResult(0, 0)
        received_at = self._clock()
        result = await bulk_insert(
            self._session,
            TAPS,
            [_row(tap, received_at) for tap in taps],
            skip_conflicts=True,
            returning=["device_id", "device_seq"],
        )
        unclaimed = {(device, seq) for device, seq in result}
        inserted = len(unclaimed)
        if inserted == len(taps):  # every tap was new: nothing to compare
            return IngestResult(inserted, 0)
        # The first occurrence of an inserted key is the stored one; any later one is a repeat.
        skipped = []
        for tap in taps:
            key = (tap.device_id, tap.device_seq)
            if key in unclaimed:
                unclaimed.discard(key)
            else:
                skipped.append(tap)
        return IngestResult(inserted, len(taps) - inserted, await self._conflicts(skipped))

    async def _conflicts(self, skipped: Sequence[TapRecord]) -> tuple[tuple[str, int], ...]:
        stored: dict[tuple[str, int], tuple[Any, ...]] = {}
        keys = sorted({(tap.device_id, tap.device_seq) for tap in skipped})
        for chunk in chunks(keys, 2_000):
            rows = await self._session.execute(
                select(*TAP_FIELDS).where(tuple_(TAPS.c.device_id, TAPS.c.device_seq).in_(chunk))
            )
            stored.update((tap.key, _fields(tap)) for tap in map(_tap, rows))
        return tuple(
            sorted(
                {
                    (tap.device_id, tap.device_seq)
                    for tap in skipped
                    if stored.get((tap.device_id, tap.device_seq)) != _fields(tap)
                }
            )
        )

    async def count(self) -> int:
        return int(await self._session.scalar(select(func.count()).select_from(TAPS)) or 0)

    def _window(
        self, start: datetime, end: datetime, received_before: datetime | None
    ) -> Select[Any]:
        query = select(*TAP_FIELDS).where(TAPS.c.at >= start, TAPS.c.at < end)
        if received_before is not None:
            query = query.where(TAPS.c.received_at < received_before)
        return query

    async def for_account(self, account_id: str, start: datetime, end: datetime) -> list[Tap]:
        """An account's taps made in [start, end), oldest first."""
        return (await self.for_accounts([account_id], start, end)).get(account_id, [])

    async def for_accounts(
        self, account_ids: Iterable[str], start: datetime, end: datetime
    ) -> dict[str, list[Tap]]:
        """Each account's taps made in [start, end), oldest first (accounts without any are
        left out); one query for all of them (per IN-list chunk elsewhere than PostgreSQL)."""
        found: dict[str, list[Tap]] = {}
        for where in among(self._session, TAPS.c.account_id, sorted(set(account_ids))):
            rows = await self._session.execute(
                self._window(start, end, None)
                .where(where)
                .order_by(TAPS.c.account_id, TAPS.c.at, TAPS.c.device_id, TAPS.c.device_seq)
            )
            for row in rows:
                found.setdefault(row.account_id, []).append(_tap(row))
        return found

    async def stream(
        self, start: datetime, end: datetime, *, received_before: datetime | None = None
    ) -> AsyncIterator[Tap]:
        """Taps made in [start, end) (and received before a freeze time, if given), grouped by
        account then time: consecutive runs per account are what pricing needs."""
        result = await self._session.stream(
            self._window(start, end, received_before)
            .order_by(TAPS.c.account_id, TAPS.c.at, TAPS.c.device_id, TAPS.c.device_seq)
            .execution_options(yield_per=STREAM_BATCH)
        )
        async for row in result:
            yield _tap(row)
