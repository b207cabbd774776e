"""Parking's unit of work: ticketing's (ledger, riders, payments...) plus `uow.parking`.

    uows = ParkingUnitOfWorkFactory(engine)
    async with uows() as uow:
        await uow.parking.save_lot(lot)
        await uow.ledger.hold(...)
        await uow.commit()

One transaction holds both, so a session and its hold or fee posting commit together.
"""

from __future__ import annotations

from typing import Self

from parking.stores import ParkingStore
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory


class ParkingUnitOfWork(UnitOfWork):
    parking: ParkingStore

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.parking = ParkingStore(self.session, self.clock)
        return self


class ParkingUnitOfWorkFactory(UnitOfWorkFactory):
    """Makes a `ParkingUnitOfWork`; usable wherever a `UnitOfWorkFactory` is."""

    def __call__(self) -> ParkingUnitOfWork:
        return ParkingUnitOfWork(self._sessions, self.clock)
