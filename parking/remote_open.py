"""Opening a barrier from afar: an operator lets a stuck driver out (or in) with a reason.

The command is recorded with who asked and why, in the audit log (`barrier-opened`) in the
same transaction, and reaches the barrier on its next sync (`parking.services.
barrier_configuration` with the barrier's id), which it carries out once and journals
(`remote_open`, with the command's id); when that journal is uploaded the command is done
(`executed_at`). The lot's day lists its remote opens (`parking.history`).

A barrier may be opened if the device registry binds it to the lot (an active barrier), or,
for a barrier not registered, if its uploads belong to the lot.
"""

from __future__ import annotations

import uuid

from parking.errors import RemoteOpenError
from parking.records import BarrierCommand
from parking.unit_of_work import ParkingUnitOfWork, ParkingUnitOfWorkFactory
from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.devices import DeviceKind, RegistrationStatus
from ticketing.services.audit import record
from ticketing.stores.device_registry import RegistryQuery
from ticketing.unit_of_work import run_in_uow

MAX_REASON = 500


async def _barriers(uow: ParkingUnitOfWork, lot_id: str) -> list[str]:
    registered = await uow.device_registry.page(
        RegistryQuery(
            kind=DeviceKind.BARRIER, lot=lot_id, status=RegistrationStatus.ACTIVE, limit=500
        )
    )
    return sorted({d.device_id for d in registered} | set(await uow.parking.lot_devices(lot_id)))


async def lot_barriers(uows: ParkingUnitOfWorkFactory, lot_id: str) -> list[str]:
    """The barriers an operator may open at the lot (UnknownLot)."""
    async with uows() as uow:
        await uow.parking.get_lot(lot_id)
        return await _barriers(uow, lot_id)


async def open_barrier(
    uows: ParkingUnitOfWorkFactory, lot_id: str, device_id: str, *, reason: str, by: Actor
) -> BarrierCommand:
    """Ask the barrier `device_id` of `lot_id` to open once, for `reason`."""
    why = reason.strip()
    if not 0 < len(why) <= MAX_REASON or not why.isprintable():
        raise RemoteOpenError(f"say why the barrier opens, in 1-{MAX_REASON} printable characters")

    async def use_case(uow: ParkingUnitOfWork) -> BarrierCommand:
        await uow.parking.get_lot(lot_id)
        registered = await uow.device_registry.get(device_id)
        if registered is not None and (
            registered.binding.kind is not DeviceKind.BARRIER
            or registered.binding.lot_id != lot_id
            or registered.status is not RegistrationStatus.ACTIVE
        ):
            raise RemoteOpenError(
                f"device {device_id} is not an active barrier of lot {lot_id} "
                f"({registered.binding.describe()}, {registered.status.value})"
            )
        if registered is None and device_id not in await uow.parking.lot_devices(lot_id):
            raise RemoteOpenError(f"no barrier {device_id!r} at lot {lot_id}")
        command = BarrierCommand(
            command_id=f"open-{uuid.uuid4().hex[:16]}",
            lot_id=lot_id,
            device_id=device_id,
            reason=why,
            requested_by=by.name,
            requested_at=uow.clock(),
        )
        await uow.parking.add_command(command)
        await record(
            uow,
            by,
            AuditAction.BARRIER_OPENED,
            Target(TargetKind.BARRIER, device_id),
            after={"lot": lot_id, "command": command.command_id},
            reason=why,
        )
        return command

    return await run_in_uow(uows, use_case)


async def lot_commands(uows: ParkingUnitOfWorkFactory, lot_id: str) -> list[BarrierCommand]:
    """Every remote open of the lot, oldest first."""
    async with uows() as uow:
        await uow.parking.get_lot(lot_id)
        return await uow.parking.commands(lot_id=lot_id)
