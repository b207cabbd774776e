"""What the taps table says about each device: how much it uploaded and how recently.

Read-only aggregates for operators (`uow.devices`); the taps themselves are `TapStore`'s.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models import TapRow, table_of

TAPS = table_of(TapRow)


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
        grouped scan of their taps)."""
        query = select(
            TAPS.c.device_id,
            func.count(),
            func.max(TAPS.c.device_seq),
            func.max(TAPS.c.at),
            func.max(TAPS.c.received_at),
        )
        if device_ids is not None:
            query = query.where(TAPS.c.device_id.in_(list(device_ids)))
        rows = await self._session.execute(
            query.group_by(TAPS.c.device_id).order_by(TAPS.c.device_id)
        )
        # max() keeps its column's type, so the times come back aware (UTCDateTime).
        return [
            DeviceActivity(device, int(count), int(seq), at, received)
            for device, count, seq, at, received in rows
        ]
