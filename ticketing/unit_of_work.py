"""The unit of work: one database transaction and every store bound to it.

    uow_factory = UnitOfWorkFactory(engine)
    async with uow_factory() as uow:
        await uow.ledger.post(posting)
        await uow.commit()           # leaving without commit rolls back

Stores: `uow.ledger` (Ledger), `uow.taps` (TapStore), `uow.journal`
(JournalStore: quarantined taps, refused decisions), `uow.riders` (Riders: accounts, passes,
credentials), `uow.deny_list` (DenyListStore), `uow.pricing` (PricingRecords: priced days and
legs), `uow.pricing_queue` (PricingQueue: account-days waiting to be priced), `uow.payments`
(PaymentRecords: customers, attempts, refunds, webhook events), `uow.users` (Users: API users
and bearer tokens), `uow.devices` (DeviceActivityStore: uploads per device),
`uow.device_registry` (DeviceRegistry: registered devices, codes, sealed secrets),
`uow.device_health` (DeviceHealthStore: the latest heartbeat of each device),
`uow.settlement` (SettlementRecords: settled days, their versions, adjustments and
exceptions), `uow.settlement_day` (DayReadModel: a service day's activity aggregated for
settlement), `uow.reconciliation` (ReconciliationInputs: the ledger's side of
reconciliation), `uow.audit` (AuditLog: the append-only audit log of staff actions). Nothing
else builds a store.

Stores never commit; the use case decides what commits together (cosmicpython style).
`run_in_uow` runs a use case in a fresh unit of work and runs it again when the database
aborted the transaction to break a deadlock or a serialization conflict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.clock import Clock, utc_now

# The engine a factory runs on: callers outside ticketing (the composition root) open it from
# here, never from the schema (`ticketing.db`) itself.
from ticketing.db.engine import create_engine as create_engine
from ticketing.db.engine import session_factory
from ticketing.stores.audit import AuditLog
from ticketing.stores.deny_list import DenyListStore
from ticketing.stores.device_health import DeviceHealthStore
from ticketing.stores.device_registry import DeviceRegistry
from ticketing.stores.devices import DeviceActivityStore
from ticketing.stores.journal import JournalStore
from ticketing.stores.ledger import Ledger
from ticketing.stores.payments import PaymentRecords
from ticketing.stores.pricing import PricingRecords
from ticketing.stores.pricing_queue import PricingQueue
from ticketing.stores.reconciliation import ReconciliationInputs
from ticketing.stores.riders import Riders
from ticketing.stores.settlement import SettlementRecords
from ticketing.stores.settlement_day import DayReadModel
from ticketing.stores.taps import TapStore
from ticketing.stores.trip_cases import TripCases
from ticketing.stores.users import Users
from ticketing.stores.vnpay import VNPayOrders

T = TypeVar("T")
U = TypeVar("U", bound="UnitOfWork")
# PostgreSQL's serialization_failure and deadlock_detected: the transaction was rolled back and
# running it again from the start is the documented remedy.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
DEFAULT_ATTEMPTS = 5


class UnitOfWork:
    """An open transaction (`session`) and the stores bound to it."""

    session: AsyncSession
    ledger: Ledger
    taps: TapStore
    journal: JournalStore
    deny_list: DenyListStore
    riders: Riders
    pricing: PricingRecords
    pricing_queue: PricingQueue
    payments: PaymentRecords
    vnpay: VNPayOrders
    trip_cases: TripCases
    users: Users
    devices: DeviceActivityStore
    device_registry: DeviceRegistry
    device_health: DeviceHealthStore
    settlement: SettlementRecords
    settlement_day: DayReadModel
    reconciliation: ReconciliationInputs
    audit: AuditLog

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self.clock = clock

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.ledger = Ledger(self.session, self.clock)
        self.taps = TapStore(self.session, self.clock)
        self.journal = JournalStore(self.session, self.clock)
        self.deny_list = DenyListStore(self.session, self.clock)
        self.riders = Riders(self.session, self.ledger, self.deny_list, self.clock)
        self.pricing = PricingRecords(self.session)
        self.pricing_queue = PricingQueue(self.session, self.clock)
        self.payments = PaymentRecords(self.session, self.clock)
        self.vnpay = VNPayOrders(self.session)
        self.trip_cases = TripCases(self.session)
        self.users = Users(self.session, self.clock)
        self.devices = DeviceActivityStore(self.session)
        self.device_registry = DeviceRegistry(self.session, self.clock)
        self.device_health = DeviceHealthStore(self.session)
        self.settlement = SettlementRecords(self.session, self.clock)
        self.settlement_day = DayReadModel(self.session)
        self.reconciliation = ReconciliationInputs(self.session)
        self.audit = AuditLog(self.session)
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
        # One turn of the event loop, so a task that waited for the connection just given back
        # takes it before this task can begin another transaction: the pool hands an idle
        # connection to whoever asks first, and on SQLite (one connection, see
        # `ticketing.db.engine`) a loop of transactions, a pricing worker's, would keep it.
        await asyncio.sleep(0)

    async def flush(self) -> None:
        """Send pending changes of loaded records, so later queries in the transaction see
        them (the session does not autoflush)."""
        await self.session.flush()

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


def is_retryable(error: BaseException) -> bool:
    """Whether the database rolled the transaction back so that it may simply run again.

    The SQLSTATE is on SQLAlchemy's wrapped driver error (`DBAPIError.orig`), or on the
    asyncpg error itself when a store spoke to the driver directly (bulk statements)."""
    original = error.orig if isinstance(error, DBAPIError) else error
    return getattr(original, "sqlstate", None) in RETRYABLE_SQLSTATES


async def run_in_uow(
    uow_factory: Callable[[], U],
    use_case: Callable[[U], Awaitable[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> T:
    """Run `use_case` in a fresh unit of work and commit; if the database aborts it as a
    deadlock victim or for a serialization conflict, run it again in a new one (up to
    `attempts` times). The use case must do nothing outside the transaction it is given.
    Any factory of a unit of work will do (parking's gives its own, with `uow.parking`)."""
    attempt = 1
    while True:
        try:
            async with uow_factory() as uow:
                result = await use_case(uow)
                await uow.commit()
                return result
        except Exception as error:
            if attempt >= attempts or not is_retryable(error):
                raise
            attempt += 1
