"""What a device's journal says about it: how much it uploaded and how recently.

Read-only aggregates for operators (`uow.devices`) over everything a gate's journal upload
stores: taps, taps in quarantine and refused decisions (a quarantined record is no gap in the
device's sequence). The records themselves are `TapStore`'s and `JournalStore`'s.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.journal_models import JournalRefusalRow, QuarantinedTapRow
from ticketing.db.models import TapRow, table_of

TABLES = (table_of(TapRow), table_of(QuarantinedTapRow), table_of(JournalRefusalRow))


@dataclass(frozen=True, slots=True)
class DeviceActivity:
    """One device's stored journal: record count, highest sequence number, the latest tap
    time on it and when the server last stored one of its records."""

    device_id: str
    records: int
    last_seq: int
    last_tap_at: datetime
    last_upload_at: datetime

    @property
    def missing(self) -> int:
        """Sequence numbers below the highest that are not stored (sequences start at 1)."""
        return self.last_seq - self.records


class DeviceActivityStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def activity(self, device_ids: Collection[str] | None = None) -> list[DeviceActivity]:
        """Every device that has uploaded (or those of `device_ids`), by device id (one
        grouped scan of their journal records)."""
        parts = []
        for table in TABLES:
            part = select(table.c.device_id, table.c.device_seq, table.c.at, table.c.received_at)
            if device_ids is not None:
                part = part.where(table.c.device_id.in_(list(device_ids)))
            parts.append(part)
        journal = union_all(*parts).subquery()
        rows = await self._session.execute(
            select(
                journal.c.device_id,
                func.count(),
                func.max(journal.c.device_seq),
                func.max(journal.c.at),
                func.max(journal.c.received_at),
            )
            .group_by(journal.c.device_id)
            .order_by(journal.c.device_id)
        )
        # max() keeps its column's type, so the times come back aware (UTCDateTime).
        return [
            DeviceActivity(device, int(count), int(seq), at, received)
            for device, count, seq, at, received in rows
        ]
