"""The latest heartbeat of each device (`device_heartbeats`), the records each sent again with
another body (`device_conflicts`), its recent refusals, and when a deny-list version went out
of date: what the backend judges a device's health from (`ticketing.device_health`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.device_models import DeviceConflictRow, DeviceHeartbeatRow
from ticketing.db.dialect import chunks, dialect_name
from ticketing.db.journal_models import JournalRefusalRow
from ticketing.db.models import DenyListEventRow, table_of
from ticketing.device_health import Fault, Heartbeat, HeartbeatRecord

BEATS = table_of(DeviceHeartbeatRow)
CONFLICTS = table_of(DeviceConflictRow)
EVENTS = table_of(DenyListEventRow)
REFUSALS = table_of(JournalRefusalRow)


@dataclass(frozen=True, slots=True)
class Conflicts:
    """The records a device sent again with another body: how many, the last one's sequence
    number and when it came."""

    records: int
    last_seq: int
    last_at: datetime


def _faults(heartbeat: Heartbeat) -> list[dict[str, Any]]:
    return [
        {
            "code": f.code,
            "detail": f.detail,
            "since": None if f.since is None else f.since.isoformat(),
        }
        for f in heartbeat.faults
    ]


def _record(row: Any) -> HeartbeatRecord:
    return HeartbeatRecord(
        device_id=row.device_id,
        received_at=row.received_at,
        heartbeat=Heartbeat(
            software_version=row.software_version,
            config_version=row.config_version,
            key_set_version=row.key_set_version,
            deny_list_version=row.deny_list_version,
            records_waiting=row.records_waiting,
            oldest_waiting_seconds=row.oldest_waiting_seconds,
            device_time=row.device_time,
            faults=tuple(
                Fault(
                    code=f["code"],
                    detail=f.get("detail"),
                    since=None if f.get("since") is None else datetime.fromisoformat(f["since"]),
                )
                for f in row.faults
            ),
        ),
    )


class DeviceHealthStore:
    """Heartbeats (`uow.device_health`); never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, device_id: str, heartbeat: Heartbeat, received_at: datetime) -> None:
        """Keep `heartbeat` as the device's latest (one upsert: two racing heartbeats of one
        device leave one of them, never an error)."""
        values: dict[str, Any] = {
            "device_id": device_id,
            "received_at": received_at,
            "device_time": heartbeat.device_time,
            "software_version": heartbeat.software_version,
            "config_version": heartbeat.config_version,
            "key_set_version": heartbeat.key_set_version,
            "deny_list_version": heartbeat.deny_list_version,
            "records_waiting": heartbeat.records_waiting,
            "oldest_waiting_seconds": heartbeat.oldest_waiting_seconds,
            "faults": _faults(heartbeat),
        }
        changed = {name: value for name, value in values.items() if name != "device_id"}
        if dialect_name(self._session) == "postgresql":
            pg = postgresql.insert(BEATS).values(**values)
            await self._session.execute(
                pg.on_conflict_do_update(index_elements=["device_id"], set_=changed)
            )
        else:
            lite = sqlite.insert(BEATS).values(**values)
            await self._session.execute(
                lite.on_conflict_do_update(index_elements=["device_id"], set_=changed)
            )

    async def latest(self, device_ids: Collection[str] | None = None) -> dict[str, HeartbeatRecord]:
        """The latest heartbeat of each device (of `device_ids`, or all), by device id."""
        found: dict[str, HeartbeatRecord] = {}
        if device_ids is None:
            rows = await self._session.execute(select(BEATS))
            return {row.device_id: _record(row) for row in rows}
        for part in chunks(list(device_ids)):
            rows = await self._session.execute(select(BEATS).where(BEATS.c.device_id.in_(part)))
            found.update((row.device_id, _record(row)) for row in rows)
        return found

    async def record_conflicts(self, device_id: str, seqs: Collection[int], at: datetime) -> None:
        """Count the records `seqs` the device just sent again with another body (one upsert)."""
        if not seqs:
            return
        values = {
            "device_id": device_id,
            "records": len(seqs),
            "last_seq": max(seqs),
            "last_at": at,
        }
        changed = {
            "records": CONFLICTS.c.records + len(seqs), "last_seq": max(seqs), "last_at": at,
        }  # fmt: skip
        if dialect_name(self._session) == "postgresql":
            pg = postgresql.insert(CONFLICTS).values(**values)
            await self._session.execute(
                pg.on_conflict_do_update(index_elements=["device_id"], set_=changed)
            )
        else:
            lite = sqlite.insert(CONFLICTS).values(**values)
            await self._session.execute(
                lite.on_conflict_do_update(index_elements=["device_id"], set_=changed)
            )

    async def conflicts(self, device_ids: Collection[str]) -> dict[str, Conflicts]:
        """What each of `device_ids` that ever sent a conflicting record sent, by device id."""
        found: dict[str, Conflicts] = {}
        for part in chunks(list(device_ids)):
            rows = await self._session.execute(
                select(CONFLICTS).where(CONFLICTS.c.device_id.in_(part))
            )
            found.update(
                (row.device_id, Conflicts(row.records, row.last_seq, row.last_at)) for row in rows
            )
        return found

    async def refusals_since(self, device_ids: Collection[str], since: datetime) -> dict[str, int]:
        """How many refused decisions each of `device_ids` made at or after `since` (by the
        decision's time), by device id; a device with none is absent."""
        found: dict[str, int] = {}
        for part in chunks(list(device_ids)):
            rows = await self._session.execute(
                select(REFUSALS.c.device_id, func.count())
                .where(REFUSALS.c.at >= since, REFUSALS.c.device_id.in_(part))
                .group_by(REFUSALS.c.device_id)
            )
            found.update((device, int(n)) for device, n in rows)
        return found

    async def deny_list_outdated_since(self, versions: Collection[int]) -> dict[int, datetime]:
        """For each of `versions`, when the deny list first changed after it (the time of the
        event numbered version + 1); a version still current is absent."""
        outdated: dict[int, datetime] = {}
        for version in set(versions):
            at = await self._session.scalar(
                select(EVENTS.c.at)
                .where(EVENTS.c.version > version)
                .order_by(EVENTS.c.version)
                .limit(1)
            )
            if at is not None:
                outdated[version] = at
        return outdated
