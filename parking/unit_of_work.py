"""Parking's unit of work: ticketing's (ledger, riders, payments...) plus `uow.parking`.

    uows = ParkingUnitOfWorkFactory(engine)
    async with uows() as uow:
        await uow.parking.save_lot(lot)
        await uow.ledger.hold(...)
        await uow.commit()

One transaction holds both, so a session and its hold or fee posting commit together.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from parking.stores import ParkingStore
from ticketing.clock import Clock, utc_now
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory


class ParkingUnitOfWork(UnitOfWork):
    parking: ParkingStore

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.parking = ParkingStore(self.session, self.clock)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)


class ParkingUnitOfWorkFactory(UnitOfWorkFactory):
    """Makes a `ParkingUnitOfWork`; usable wherever a `UnitOfWorkFactory` is."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        super().__init__(engine, clock)

    def __call__(self) -> ParkingUnitOfWork:
        return ParkingUnitOfWork(self._sessions, self.clock)
