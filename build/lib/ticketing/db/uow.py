"""The unit of work: one database transaction and the services that work inside it.

    uow_factory = UnitOfWorkFactory(engine)
    async with uow_factory() as uow:
        await uow.ledger.post(posting)
        await uow.commit()           # leaving without commit rolls back

Services: `uow.ledger` (Ledger), `uow.taps` (TapStore), `uow.riders` (Riders: accounts,
passes, credentials), `uow.deny_list` (DenyList).

Services never commit; the caller decides what commits together (cosmicpython style).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.db.engine import session_factory
from ticketing.services.clock import Clock, utc_now
from ticketing.services.deny_list import DenyList
from ticketing.services.ledger import Ledger
from ticketing.services.riders import Riders
from ticketing.services.taps import TapStore


class UnitOfWork:
    """An open transaction (`session`) and the services bound to it."""

    session: AsyncSession
    ledger: Ledger
    taps: TapStore
    deny_list: DenyList
    riders: Riders

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self.clock = clock

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.ledger = Ledger(self.session, self.clock)
        self.taps = TapStore(self.session, self.clock)
        self.deny_list = DenyList(self.session, self.clock)
        self.riders = Riders(self.session, self.ledger, self.deny_list, self.clock)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()


class UnitOfWorkFactory:
    """Makes a fresh UnitOfWork per `async with`; holds the engine's session maker and clock."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self._sessions = session_factory(engine)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self.clock)
