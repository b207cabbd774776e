"""`ParkingStore`: parking's records in the caller's transaction (it never commits).

Lots and their tariff versions, sessions, applied barrier events, per-barrier upload
positions and unable-to-collect cases; see `parking/db.py` for the tables. Built only by
`parking.unit_of_work`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parking.db import (
    ParkingBarrierCommandRow,
    ParkingBarrierEventRow,
    ParkingDeviceRow,
    ParkingInspectionRow,
    ParkingLotRow,
    ParkingOccupancyRow,
    ParkingPermitRow,
    ParkingSessionRow,
    ParkingTariffVersionRow,
    UnableToCollectRow,
)
from parking.errors import UnknownLot, UnknownTariffVersion
from parking.occupancy_history import Bucket
from parking.permit import Permit
from parking.records import (
    BarrierCommand,
    BarrierEvent,
    CaseRecord,
    CaseStatus,
    Inspection,
    LotConfig,
    LotKind,
    SessionRecord,
)
from parking.sessions import Passback, SessionState
from parking.tariff_versions import TariffVersion
from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import insert_or_add, insert_or_skip
from ticketing.db.models import table_of

EVENTS = table_of(ParkingBarrierEventRow)
OCCUPANCY = table_of(ParkingOccupancyRow)


def _lot(row: ParkingLotRow) -> LotConfig:
    passback: Passback = "soft" if row.passback == "soft" else "hard"
    return LotConfig(
        lot_id=row.id,
        name=row.name,
        operator=row.operator,
        capacity=row.capacity,
        reserved=row.reserved,
        passback=passback,
        hold_amount=row.hold_amount,
        currency=row.currency,
        kind=LotKind(row.kind),
        latitude=row.latitude,
        longitude=row.longitude,
        address=row.address,
        permit_price=row.permit_price,
    )


def _session(row: ParkingSessionRow) -> SessionRecord:
    return SessionRecord(
        session_id=row.id,
        lot_id=row.lot_id,
        device_id=row.device_id,
        entry_seq=row.entry_seq,
        vehicle=row.vehicle,
        entry_at=row.entry_at,
        currency=row.currency,
        status=SessionState(row.status),
        credential_id=row.credential_id,
        account_id=row.account_id,
        plate=row.plate,
        exit_seq=row.exit_seq,
        exit_at=row.exit_at,
        fee=row.fee,
        collected=row.collected,
        tariff_id=row.tariff_id,
        passback_violation=row.passback_violation,
        lost_credential=row.lost_credential,
        hold_id=row.hold_id,
        posting_id=row.posting_id,
        receipt_no=row.receipt_no,
        permit_id=row.permit_id,
    )


def _permit(row: ParkingPermitRow) -> Permit:
    return Permit(
        permit_id=row.id,
        lot_id=row.lot_id,
        month=row.month,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        plate=row.plate,
        credential_id=row.credential_id,
        price=row.price,
        currency=row.currency,
        sold_at=row.sold_at,
        sold_by=row.sold_by,
        account_id=row.account_id,
        posting_id=row.posting_id,
    )


def _tariff_version(row: ParkingTariffVersionRow) -> TariffVersion:
    return TariffVersion(
        lot_id=row.lot_id,
        version=row.version,
        document=row.document,
        effective_from=row.effective_from,
        created_at=row.created_at,
        created_by=row.created_by,
        cancelled_at=row.cancelled_at,
        cancelled_by=row.cancelled_by,
    )


def _case(row: UnableToCollectRow) -> CaseRecord:
    return CaseRecord(
        session_id=row.session_id,
        lot_id=row.lot_id,
        account_id=row.account_id,
        credential_id=row.credential_id,
        plate=row.plate,
        amount=row.amount,
        currency=row.currency,
        reason=row.reason,
        at=row.at,
        debt_posting_id=row.debt_posting_id,
        status=CaseStatus(row.status),
        notified_at=row.notified_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
    )


def _command(row: ParkingBarrierCommandRow) -> BarrierCommand:
    return BarrierCommand(
        command_id=row.id,
        lot_id=row.lot_id,
        device_id=row.device_id,
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        executed_at=row.executed_at,
        executed_seq=row.executed_seq,
    )


class ParkingStore:
    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    # --- lots -------------------------------------------------------------------------

    async def save_lot(self, lot: LotConfig) -> None:
        """Create the lot or replace its configuration."""
        row = await self._session.get(ParkingLotRow, lot.lot_id)
        if row is None:
            row = ParkingLotRow(id=lot.lot_id)
            self._session.add(row)
        row.name = lot.name
        row.operator = lot.operator
        row.capacity = lot.capacity
        row.reserved = lot.reserved
        row.passback = lot.passback
        row.hold_amount = lot.hold_amount
        row.currency = lot.currency
        row.kind = lot.kind.value
        row.latitude = lot.latitude
        row.longitude = lot.longitude
        row.address = lot.address
        row.permit_price = lot.permit_price
        row.updated_at = self._clock()
        await self._session.flush()

    async def lot_for_update(self, lot_id: str) -> LotConfig:
        """The lot, its row locked until the transaction ends (an edit, a new tariff)."""
        row = await self._session.get(ParkingLotRow, lot_id, with_for_update=True)
        if row is None:
            raise UnknownLot(f"no parking lot {lot_id!r}")
        return _lot(row)

    async def lot_updated_at(self, lot_id: str) -> datetime:
        row = await self._session.get(ParkingLotRow, lot_id)
        if row is None:
            raise UnknownLot(f"no parking lot {lot_id!r}")
        return row.updated_at

    async def find_lot(self, lot_id: str) -> LotConfig | None:
        row = await self._session.get(ParkingLotRow, lot_id)
        return None if row is None else _lot(row)

    async def get_lot(self, lot_id: str) -> LotConfig:
        lot = await self.find_lot(lot_id)
        if lot is None:
            raise UnknownLot(f"no parking lot {lot_id!r}")
        return lot

    async def lots(self) -> list[LotConfig]:
        rows = await self._session.scalars(select(ParkingLotRow).order_by(ParkingLotRow.id))
        return [_lot(row) for row in rows]

    # --- tariff versions --------------------------------------------------------------

    async def add_tariff_version(
        self, lot_id: str, document: str, *, created_by: str, effective_from: datetime | None
    ) -> TariffVersion:
        """Store the next version of the lot's tariff (the lot's row is locked meanwhile, so
        two uploads at once get two numbers)."""
        await self.lot_for_update(lot_id)
        latest = await self._session.execute(
            select(func.max(ParkingTariffVersionRow.version)).where(
                ParkingTariffVersionRow.lot_id == lot_id
            )
        )
        row = ParkingTariffVersionRow(
            lot_id=lot_id,
            version=(latest.scalar_one() or 0) + 1,
            document=document,
            effective_from=effective_from,
            created_at=self._clock(),
            created_by=created_by,
        )
        self._session.add(row)
        await self._session.flush()
        return _tariff_version(row)

    async def set_tariff_schedule(
        self,
        lot_id: str,
        version: int,
        *,
        effective_from: datetime | None = None,
        cancelled_by: str | None = None,
    ) -> TariffVersion:
        """Schedule a version (`effective_from`) or cancel it (`cancelled_by`)."""
        row = await self._session.get(ParkingTariffVersionRow, (lot_id, version))
        if row is None:
            raise UnknownTariffVersion(f"lot {lot_id!r} has no tariff version {version}")
        if cancelled_by is not None:
            row.cancelled_at = self._clock()
            row.cancelled_by = cancelled_by
        else:
            row.effective_from = effective_from
        await self._session.flush()
        return _tariff_version(row)

    async def tariff_versions(self, lot_id: str) -> list[TariffVersion]:
        """Every version of the lot's tariff (drafts and cancelled ones too), oldest first."""
        rows = await self._session.scalars(
            select(ParkingTariffVersionRow)
            .where(ParkingTariffVersionRow.lot_id == lot_id)
            .order_by(ParkingTariffVersionRow.version)
        )
        return [_tariff_version(row) for row in rows]

    # --- barrier positions and events -------------------------------------------------

    async def device_position(self, device_id: str, lot_id: str) -> tuple[str, int]:
        """The barrier's lot and highest applied seq, locked until the transaction ends
        (created at 0 for a new barrier, registered to `lot_id`)."""
        await self._session.execute(
            insert_or_skip(self._session, table_of(ParkingDeviceRow)),
            {"device_id": device_id, "lot_id": lot_id, "last_seq": 0, "updated_at": self._clock()},
        )
        row = (
            await self._session.execute(
                select(ParkingDeviceRow.lot_id, ParkingDeviceRow.last_seq)
                .where(ParkingDeviceRow.device_id == device_id)
                .with_for_update()
            )
        ).one()
        return str(row.lot_id), int(row.last_seq)

    async def lot_devices(self, lot_id: str) -> list[str]:
        """The barriers that have uploaded records of the lot, by id."""
        rows = await self._session.scalars(
            select(ParkingDeviceRow.device_id)
            .where(ParkingDeviceRow.lot_id == lot_id)
            .order_by(ParkingDeviceRow.device_id)
        )
        return list(rows)

    async def set_device_position(self, device_id: str, seq: int) -> None:
        await self._session.execute(
            update(ParkingDeviceRow)
            .where(ParkingDeviceRow.device_id == device_id)
            .values(last_seq=seq, updated_at=self._clock())
        )

    async def record_events(self, events: Sequence[BarrierEvent]) -> None:
        if not events:
            return
        now = self._clock()
        await self._session.execute(
            insert_or_skip(self._session, EVENTS),
            [
                {
                    "device_id": e.device_id,
                    "seq": e.seq,
                    "lot_id": e.lot_id,
                    "kind": e.kind.value,
                    "at": e.at,
                    "session_id": e.session_id if e.kind in ("entry", "exit") else None,
                    "reason": e.reason[:64],
                    "received_at": now,
                }
                for e in events
            ],
        )

    async def events_count(self, device_id: str) -> int:
        query = select(func.count()).where(ParkingBarrierEventRow.device_id == device_id)
        return int((await self._session.execute(query)).scalar_one())

    # --- sessions ---------------------------------------------------------------------

    async def add_session(self, record: SessionRecord) -> None:
        self._session.add(ParkingSessionRow(id=record.session_id, **_columns(record)))
        await self._session.flush()

    async def save_session(self, record: SessionRecord) -> None:
        """Write a session's current state (it must exist)."""
        row = await self._session.get(ParkingSessionRow, record.session_id)
        if row is None:
            raise UnknownLot(f"no parking session {record.session_id!r}")
        for name, value in _columns(record).items():
            setattr(row, name, value)
        await self._session.flush()

    async def find_session(self, session_id: str) -> SessionRecord | None:
        row = await self._session.get(ParkingSessionRow, session_id)
        return None if row is None else _session(row)

    async def get_session(self, session_id: str) -> SessionRecord:
        found = await self.find_session(session_id)
        if found is None:
            raise UnknownLot(f"no parking session {session_id!r}")
        return found

    async def sessions(
        self, lot_id: str | None = None, *, status: SessionState | None = None
    ) -> list[SessionRecord]:
        query = select(ParkingSessionRow).order_by(ParkingSessionRow.entry_at, ParkingSessionRow.id)
        if lot_id is not None:
            query = query.where(ParkingSessionRow.lot_id == lot_id)
        if status is not None:
            query = query.where(ParkingSessionRow.status == status.value)
        return [_session(row) for row in await self._session.scalars(query)]

    async def oldest_open_entry(self, lot_id: str) -> datetime | None:
        """When the lot's longest-parked vehicle entered (None: the lot is empty)."""
        query = select(func.min(ParkingSessionRow.entry_at)).where(
            ParkingSessionRow.lot_id == lot_id,
            ParkingSessionRow.status == SessionState.OPEN.value,
        )
        return (await self._session.execute(query)).scalar_one()

    async def count_open(self, lot_id: str) -> int:
        query = select(func.count()).where(
            ParkingSessionRow.lot_id == lot_id,
            ParkingSessionRow.status == SessionState.OPEN.value,
        )
        return int((await self._session.execute(query)).scalar_one())

    # --- occupancy history ------------------------------------------------------------

    async def add_occupancy(self, lot_id: str, buckets: Sequence[Bucket]) -> None:
        """Add entries, exits and fees to the lot's buckets (created at nothing first)."""
        if not buckets:
            return
        await self._session.execute(
            insert_or_add(
                self._session, OCCUPANCY, ("lot_id", "bucket_start"), ("entries", "exits", "fees")
            ),
            [
                {
                    "lot_id": lot_id,
                    "bucket_start": b.start,
                    "entries": b.entries,
                    "exits": b.exits,
                    "fees": b.fees,
                }
                for b in buckets
            ],
        )

    async def occupied_before(self, lot_id: str, at: datetime) -> int:
        """Vehicles inside at `at` by the buckets: entries before it less exits before it."""
        query = select(
            func.coalesce(func.sum(ParkingOccupancyRow.entries - ParkingOccupancyRow.exits), 0)
        ).where(ParkingOccupancyRow.lot_id == lot_id, ParkingOccupancyRow.bucket_start < at)
        return int((await self._session.execute(query)).scalar_one())

    async def occupancy(self, lot_id: str, start: datetime, end: datetime) -> list[Bucket]:
        """The lot's buckets from `start` (included) to `end` (excluded), in order."""
        rows = await self._session.scalars(
            select(ParkingOccupancyRow)
            .where(
                ParkingOccupancyRow.lot_id == lot_id,
                ParkingOccupancyRow.bucket_start >= start,
                ParkingOccupancyRow.bucket_start < end,
            )
            .order_by(ParkingOccupancyRow.bucket_start)
        )
        return [
            Bucket(start=r.bucket_start, entries=r.entries, exits=r.exits, fees=r.fees)
            for r in rows
        ]

    async def sessions_ended(
        self, lot_id: str, start: datetime, end: datetime
    ) -> list[SessionRecord]:
        """The lot's stays that ended from `start` to `end` (excluded), by exit."""
        rows = await self._session.scalars(
            select(ParkingSessionRow)
            .where(
                ParkingSessionRow.lot_id == lot_id,
                ParkingSessionRow.exit_at >= start,
                ParkingSessionRow.exit_at < end,
            )
            .order_by(ParkingSessionRow.exit_at, ParkingSessionRow.id)
        )
        return [_session(row) for row in rows]

    async def open_session_of_plate(self, lot_id: str, plate: str) -> SessionRecord | None:
        """The latest open stay at the lot of a plate (normalised)."""
        row = await self._session.scalar(
            select(ParkingSessionRow)
            .where(
                ParkingSessionRow.lot_id == lot_id,
                ParkingSessionRow.plate == plate,
                ParkingSessionRow.status == SessionState.OPEN.value,
            )
            .order_by(ParkingSessionRow.entry_at.desc())
            .limit(1)
        )
        return None if row is None else _session(row)

    # --- inspections --------------------------------------------------------------------

    async def add_inspection(self, inspection: Inspection) -> Inspection:
        row = ParkingInspectionRow(
            lot_id=inspection.lot_id,
            plate=inspection.plate,
            inspector=inspection.inspector,
            at=inspection.at,
            result=inspection.result,
            session_id=inspection.session_id,
            permit_id=inspection.permit_id,
        )
        self._session.add(row)
        await self._session.flush()
        return replace(inspection, inspection_id=row.id)

    async def inspections(
        self, *, inspector: str | None = None, lot_id: str | None = None, limit: int = 50
    ) -> list[Inspection]:
        """The newest checks first (of one inspector, or at one lot)."""
        query = select(ParkingInspectionRow).order_by(
            ParkingInspectionRow.at.desc(), ParkingInspectionRow.id.desc()
        )
        if inspector is not None:
            query = query.where(ParkingInspectionRow.inspector == inspector)
        if lot_id is not None:
            query = query.where(ParkingInspectionRow.lot_id == lot_id)
        return [
            Inspection(
                inspection_id=r.id,
                lot_id=r.lot_id,
                plate=r.plate,
                inspector=r.inspector,
                at=r.at,
                result=r.result,
                session_id=r.session_id,
                permit_id=r.permit_id,
            )
            for r in await self._session.scalars(query.limit(limit))
        ]

    # --- barrier commands -------------------------------------------------------------

    async def add_command(self, command: BarrierCommand) -> None:
        self._session.add(
            ParkingBarrierCommandRow(
                id=command.command_id,
                lot_id=command.lot_id,
                device_id=command.device_id,
                reason=command.reason,
                requested_by=command.requested_by,
                requested_at=command.requested_at,
            )
        )
        await self._session.flush()

    async def commands(
        self,
        *,
        lot_id: str | None = None,
        device_id: str | None = None,
        pending: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[BarrierCommand]:
        """Barrier commands, oldest first: of a lot or a barrier, pending (not yet done) or
        done, asked from `since` to `until`."""
        query = select(ParkingBarrierCommandRow).order_by(
            ParkingBarrierCommandRow.requested_at, ParkingBarrierCommandRow.id
        )
        if lot_id is not None:
            query = query.where(ParkingBarrierCommandRow.lot_id == lot_id)
        if device_id is not None:
            query = query.where(ParkingBarrierCommandRow.device_id == device_id)
        if pending is not None:
            done = ParkingBarrierCommandRow.executed_at.is_not(None)
            query = query.where(~done if pending else done)
        if since is not None:
            query = query.where(ParkingBarrierCommandRow.requested_at >= since)
        if until is not None:
            query = query.where(ParkingBarrierCommandRow.requested_at < until)
        return [_command(row) for row in await self._session.scalars(query)]

    async def command_done(self, command_id: str, at: datetime, seq: int) -> bool:
        """Mark a command done by the barrier's journal record `seq` at `at` (the first record
        wins); False for a command not on record."""
        row = await self._session.get(ParkingBarrierCommandRow, command_id)
        if row is None:
            return False
        if row.executed_at is None:
            row.executed_at = at
            row.executed_seq = seq
            await self._session.flush()
        return True

    # --- permits ----------------------------------------------------------------------

    async def add_permit(self, permit: Permit) -> Permit:
        """Record a permit; one already recorded under its id is returned as it stands (the
        same sale again)."""
        found = await self._session.get(ParkingPermitRow, permit.permit_id)
        if found is not None:
            return _permit(found)
        row = ParkingPermitRow(
            id=permit.permit_id,
            lot_id=permit.lot_id,
            month=permit.month,
            valid_from=permit.valid_from,
            valid_until=permit.valid_until,
            plate=permit.plate,
            credential_id=permit.credential_id,
            account_id=permit.account_id,
            price=permit.price,
            currency=permit.currency,
            sold_at=permit.sold_at,
            sold_by=permit.sold_by,
            posting_id=permit.posting_id,
        )
        self._session.add(row)
        await self._session.flush()
        return _permit(row)

    async def find_permit(self, permit_id: str) -> Permit | None:
        row = await self._session.get(ParkingPermitRow, permit_id)
        return None if row is None else _permit(row)

    async def permits(
        self,
        lot_id: str | None = None,
        *,
        month: date | None = None,
        valid_after: datetime | None = None,
        account_id: str | None = None,
        plate: str | None = None,
    ) -> list[Permit]:
        """Permits by lot, month, validity (those ending after `valid_after`), buyer or plate,
        in the order they start, then by id."""
        query = select(ParkingPermitRow).order_by(ParkingPermitRow.valid_from, ParkingPermitRow.id)
        if lot_id is not None:
            query = query.where(ParkingPermitRow.lot_id == lot_id)
        if month is not None:
            query = query.where(ParkingPermitRow.month == month)
        if valid_after is not None:
            query = query.where(ParkingPermitRow.valid_until > valid_after)
        if account_id is not None:
            query = query.where(ParkingPermitRow.account_id == account_id)
        if plate is not None:
            query = query.where(ParkingPermitRow.plate == plate)
        return [_permit(row) for row in await self._session.scalars(query)]

    # --- unable to collect ------------------------------------------------------------

    async def add_case(self, case: CaseRecord) -> None:
        self._session.add(
            UnableToCollectRow(
                session_id=case.session_id,
                lot_id=case.lot_id,
                account_id=case.account_id,
                credential_id=case.credential_id,
                plate=case.plate,
                amount=case.amount,
                currency=case.currency,
                reason=case.reason,
                at=case.at,
                debt_posting_id=case.debt_posting_id,
                status=case.status.value,
            )
        )
        await self._session.flush()

    async def find_case(self, session_id: str) -> CaseRecord | None:
        row = await self._session.get(UnableToCollectRow, session_id, with_for_update=True)
        return None if row is None else _case(row)

    async def save_case(self, case: CaseRecord) -> None:
        """Write a case's follow-up (status, when told, who resolved it and how)."""
        row = await self._session.get(UnableToCollectRow, case.session_id)
        if row is None:
            raise UnknownLot(f"no unable-to-collect case {case.session_id!r}")
        row.status = case.status.value
        row.notified_at = case.notified_at
        row.resolved_at = case.resolved_at
        row.resolved_by = case.resolved_by
        row.resolution = case.resolution
        await self._session.flush()

    async def cases(
        self,
        lot_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        plate: str | None = None,
        statuses: frozenset[CaseStatus] | None = None,
    ) -> list[CaseRecord]:
        query = select(UnableToCollectRow).order_by(
            UnableToCollectRow.at, UnableToCollectRow.session_id
        )
        if lot_id is not None:
            query = query.where(UnableToCollectRow.lot_id == lot_id)
        if plate is not None:
            query = query.where(UnableToCollectRow.plate == plate)
        if statuses is not None:
            query = query.where(UnableToCollectRow.status.in_([s.value for s in statuses]))
        if since is not None:
            query = query.where(UnableToCollectRow.at >= since)
        if until is not None:
            query = query.where(UnableToCollectRow.at < until)
        return [_case(row) for row in await self._session.scalars(query)]


def _columns(record: SessionRecord) -> dict[str, object]:
    return {
        "lot_id": record.lot_id,
        "device_id": record.device_id,
        "entry_seq": record.entry_seq,
        "exit_seq": record.exit_seq,
        "credential_id": record.credential_id,
        "account_id": record.account_id,
        "plate": record.plate,
        "vehicle": record.vehicle,
        "entry_at": record.entry_at,
        "exit_at": record.exit_at,
        "status": record.status.value,
        "fee": record.fee,
        "collected": record.collected,
        "currency": record.currency,
        "tariff_id": record.tariff_id,
        "passback_violation": record.passback_violation,
        "lost_credential": record.lost_credential,
        "hold_id": record.hold_id,
        "posting_id": record.posting_id,
        "receipt_no": record.receipt_no,
        "permit_id": record.permit_id,
    }
