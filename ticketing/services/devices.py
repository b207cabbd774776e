"""Use case: the status of every device that uploads journals, for operators."""

from __future__ import annotations

from ticketing.stores.devices import DeviceActivity
from ticketing.unit_of_work import UnitOfWorkFactory


async def device_activity(uows: UnitOfWorkFactory) -> list[DeviceActivity]:
    """Per device: records stored, highest sequence number, latest tap, latest upload."""
    async with uows() as uow:
        return await uow.devices.activity()
