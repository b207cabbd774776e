"""The device registry (table of `ticketing.db.device_models`): registered devices, their
pending enrolment codes (as hashes) and their sealed secrets.

Every change of status is one conditional UPDATE, so two enrolments racing with one code, or
an enrolment racing a revocation, change the row once: the loser sees no row updated.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.device_models import DeviceRow
from ticketing.devices import (
    Binding,
    DeviceKind,
    DeviceRecord,
    Direction,
    RegistrationStatus,
)
from ticketing.errors import DeviceExists


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """What the request guard needs of a device: its status and its sealed secret."""

    device_id: str
    status: RegistrationStatus
    generation: int
    secret_sealed: bytes | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryQuery:
    """Filters, all optional: ids containing `search`, of `kind`, with `status`, bound to one of
    `stops` or to `lot`; `limit` devices by id, after the id `after`."""

    search: str | None = None
    kind: DeviceKind | None = None
    status: RegistrationStatus | None = None
    stops: Collection[str] | None = None
    lot: str | None = None
    after: str | None = None
    limit: int = 50


def _record(row: DeviceRow) -> DeviceRecord:
    return DeviceRecord(
        device_id=row.device_id,
        binding=Binding(
            kind=row.kind,
            stop_id=row.stop_id,
            route_id=row.route_id,
            lot_id=row.lot_id,
            direction=None if row.direction is None else Direction(row.direction),
        ),
        status=row.status,
        generation=row.generation,
        added_at=row.added_at,
        code_expires_at=row.code_expires_at,
        enrolled_at=row.enrolled_at,
        revoked_at=row.revoked_at,
        public_key=row.public_key,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class DeviceRegistry:
    """Registered devices (see the module docstring); never commits."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    async def get(self, device_id: str) -> DeviceRecord | None:
        row = await self._session.get(DeviceRow, device_id)
        return None if row is None else _record(row)

    async def code_hash(self, device_id: str) -> str | None:
        return await self._session.scalar(
            select(DeviceRow.code_hash).where(DeviceRow.device_id == device_id)
        )

    async def key(self, device_id: str) -> DeviceKey | None:
        """The guard's view of one device (one indexed read of four columns)."""
        row = (
            await self._session.execute(
                select(
                    DeviceRow.status,
                    DeviceRow.generation,
                    DeviceRow.secret_sealed,
                    DeviceRow.revoked_at,
                ).where(DeviceRow.device_id == device_id)
            )
        ).one_or_none()
        if row is None:
            return None
        status, generation, sealed, revoked_at = row
        return DeviceKey(device_id, status, generation, sealed, revoked_at)

    async def register(
        self, device_id: str, binding: Binding, code_hash: str, expires_at: datetime
    ) -> tuple[DeviceRecord | None, DeviceRecord]:
        """Register a new device, or register a pending or revoked one again (new binding,
        new code): the record before (None if new) and after. An active device raises
        DeviceExists: it must be revoked first."""
        before = await self.get(device_id)
        values = {
            "kind": binding.kind,
            "stop_id": binding.stop_id,
            "route_id": binding.route_id,
            "lot_id": binding.lot_id,
            "direction": None if binding.direction is None else binding.direction.value,
            "status": RegistrationStatus.PENDING,
            "code_hash": code_hash,
            "code_expires_at": expires_at,
            "secret_sealed": None,
        }
        if before is None:
            self._session.add(
                DeviceRow(
                    device_id=device_id,
                    generation=0,
                    public_key=None,
                    added_at=self._clock(),
                    enrolled_at=None,
                    revoked_at=None,
                    **values,
                )
            )
            try:
                await self._session.flush()
            except IntegrityError as error:  # registered by someone else meanwhile
                raise DeviceExists(f"device {device_id} was registered meanwhile") from error
        else:
            changed = await self._session.execute(
                update(DeviceRow)
                .where(
                    DeviceRow.device_id == device_id,
                    DeviceRow.status != RegistrationStatus.ACTIVE,
                )
                .values(**values)
            )
            if not changed.rowcount:  # type: ignore[attr-defined]
                raise DeviceExists(
                    f"device {device_id} is enrolled; revoke it before registering it again"
                )
        after = await self._refreshed(device_id)
        return before, after

    async def enrol(
        self,
        device_id: str,
        code_hash: str,
        now: datetime,
        *,
        generation: int,
        secret_sealed: bytes,
        public_key: bytes,
    ) -> DeviceRecord | None:
        """Mark the device enrolled with its new sealed secret if it is still pending with this
        code unexpired at `now`; None if not (another enrolment or a revocation came first)."""
        changed = await self._session.execute(
            update(DeviceRow)
            .where(
                DeviceRow.device_id == device_id,
                DeviceRow.status == RegistrationStatus.PENDING,
                DeviceRow.code_hash == code_hash,
                DeviceRow.code_expires_at > now,
                DeviceRow.generation == generation - 1,
            )
            .values(
                status=RegistrationStatus.ACTIVE,
                generation=generation,
                code_hash=None,
                code_expires_at=None,
                secret_sealed=secret_sealed,
                public_key=public_key,
                enrolled_at=now,
                revoked_at=None,
            )
        )
        if not changed.rowcount:  # type: ignore[attr-defined]
            return None
        return await self._refreshed(device_id)

    async def revoke(self, device_id: str) -> DeviceRecord | None:
        """Revoke the device (its secret and any pending code are destroyed); None if it was
        revoked already."""
        changed = await self._session.execute(
            update(DeviceRow)
            .where(
                DeviceRow.device_id == device_id,
                DeviceRow.status != RegistrationStatus.REVOKED,
            )
            .values(
                status=RegistrationStatus.REVOKED,
                code_hash=None,
                code_expires_at=None,
                secret_sealed=None,
                revoked_at=self._clock(),
            )
        )
        if not changed.rowcount:  # type: ignore[attr-defined]
            return None
        return await self._refreshed(device_id)

    async def page(self, query: RegistryQuery) -> list[DeviceRecord]:
        """Devices matching `query`, by id."""
        where: list[ColumnElement[bool]] = []
        if query.search:
            pattern = f"%{_escape_like(query.search)}%"
            where.append(DeviceRow.device_id.ilike(pattern, escape="\\"))
        if query.kind is not None:
            where.append(DeviceRow.kind == query.kind)
        if query.status is not None:
            where.append(DeviceRow.status == query.status)
        if query.stops is not None:
            where.append(DeviceRow.stop_id.in_(list(query.stops)))
        if query.lot is not None:
            where.append(DeviceRow.lot_id == query.lot)
        if query.after is not None:
            where.append(DeviceRow.device_id > query.after)
        rows = await self._session.scalars(
            select(DeviceRow).where(*where).order_by(DeviceRow.device_id).limit(query.limit)
        )
        return [_record(row) for row in rows]

    async def _refreshed(self, device_id: str) -> DeviceRecord:
        row = await self._session.scalar(
            select(DeviceRow)
            .where(DeviceRow.device_id == device_id)
            .execution_options(populate_existing=True)
        )
        assert row is not None  # the caller has just written it
        return _record(row)
