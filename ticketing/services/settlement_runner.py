"""The settlement runner: works the days finance asked to prepare or approve, off the request
(docs/SETTLEMENT.md §11).

The job queue is the day's own record: `settlement_days.job` says what is waiting, and the
run's state, stage and progress are the same row the API reads, so a queue and the state it
reports cannot disagree. A runner looks for waiting work when woken (the server wakes its own
runner when a request leaves work) and every `poll` seconds, and runs each day's job under the
day's settlement lock (`settlement_lock`): any number of runners (the server's own, `faregate
worker --settlements` on other machines) share the work, each day run by one at a time, and a
job whose runner died is taken up by the next (the lock dies with its process).

Progress goes to the day's record as the stages report it, at most every
`PROGRESS_INTERVAL` seconds apart and always at a stage's last count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from faregate_data.operators import OperatorRegistry
from gateways.protocol import Gateway
from gateways.vnpay import VNPayConfig
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.charging import DEFAULT_CONCURRENCY
from ticketing.services.settlement import ProgressHook, run_job
from ticketing.settlement.errors import SettlementInProgress
from ticketing.settlement.states import Job, Stage
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

log = logging.getLogger(__name__)

DEFAULT_POLL = 5.0  # seconds between looks for waiting work when nobody wakes the runner
PROGRESS_INTERVAL = 0.5  # seconds between progress writes within a stage


@dataclass(slots=True, kw_only=True)
class SettlementRunner:
    """What a runner settles with: the database, fare feed, gateway and payments of its
    process, and where each day's reports go."""

    uows: UnitOfWorkFactory
    feed: FareFeed
    report_dir: Callable[[date], Path]
    gateway: Gateway | None = None
    payments: PaymentsService | None = None
    vnpay: VNPayConfig | None = None  # VNPay's terminal, to reconcile its top-ups
    registry: OperatorRegistry | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def run_waiting(self) -> list[tuple[date, Job]]:
        """Run every day's waiting job that no other runner holds; what ran (or failed: its
        error is on the day's record)."""
        async with self.uows() as uow:
            waiting = await uow.settlement.pending_jobs()
        ran: list[tuple[date, Job]] = []
        for day, job in waiting:
            try:
                done = await run_job(
                    self.uows,
                    self.feed,
                    day,
                    report_dir=self.report_dir(day),
                    gateway=self.gateway,
                    payments=self.payments,
                    vnpay=self.vnpay,
                    registry=self.registry,
                    progress=self._progress(day),
                    concurrency=self.concurrency,
                )
            except SettlementInProgress:
                continue  # another runner (or `faregate settle`) holds the day
            except Exception:  # recorded on the day; a person retries it
                log.exception("settlement %s of %s failed", job, day)
                ran.append((day, job))
                continue
            if done is not None:
                ran.append((day, done))
        return ran

    async def serve(self, stop: asyncio.Event, *, poll: float = DEFAULT_POLL) -> None:
        """Run waiting work until `stop` is set: when woken, and every `poll` seconds."""
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.run_waiting()
            except Exception:  # the database away for a moment: look again later
                log.exception("settlement runner: looking for waiting work failed")
            waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())}
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    def _progress(self, day: date) -> ProgressHook:
        last = [0.0]

        async def write(stage: Stage, done: int, total: int) -> None:
            now = time.monotonic()
            if done not in (0, total) and now - last[0] < PROGRESS_INTERVAL:
                return
            last[0] = now

            async def store(uow: UnitOfWork) -> None:
                await uow.settlement.progress(day, stage, done, total)

            await run_in_uow(self.uows, store)

        return write
