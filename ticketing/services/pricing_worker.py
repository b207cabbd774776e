"""Pricing off the request path: workers price the account-days tap ingest queued.

    stop = asyncio.Event()
    await run_worker(uow_factory, feed, stop=stop, lag=lag)   # until stop is set

Each cycle claims up to `batch` queued account-days (`ticketing.stores.pricing_queue`: FOR
UPDATE SKIP LOCKED on PostgreSQL, so any number of workers on any number of machines share one
queue), prices them with `FarePricing` in slices until `cycle_seconds` have passed, and
deletes the days it priced from the queue in the same transaction; the rest stay queued for
the next cycle. The bound is for everyone else: on SQLite a cycle holds the database's only
write lock, and on PostgreSQL an upload re-queuing a claimed day waits for the cycle to end,
so a cycle of a hundred days (seconds) stalled device uploads and syncs behind it. A day is
priced and dequeued together or not at all, and a tap stored while its
day was being priced queues the day again (its queue upsert waits for the claim to end, then
inserts the row anew), so it is priced again. When a batch cannot be priced (e.g. taps of an
account we have no record of), its days are priced one by one and each day that fails is
postponed by `retry_delay`, so one bad day does not hold up the queue. The worker sleeps
`poll` seconds when the queue is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from ticketing.errors import TicketingError
from ticketing.fares.feed import FareFeed
from ticketing.services.pricing import FarePricing
from ticketing.services.taps import PricingSummary
from ticketing.stores.pricing_queue import AccountDay
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

log = logging.getLogger(__name__)

DEFAULT_BATCH = 100
DEFAULT_POLL = 1.0
DEFAULT_RETRY_DELAY = timedelta(minutes=5)
# How long a cycle goes on pricing (one day at least), by database. SQLite: what any other
# transaction of the process waits when it asks during a cycle (transactions take turns, see
# `ticketing.db.engine`), so short. PostgreSQL: only an upload re-queuing a claimed day waits,
# and each cycle costs a claim, a commit and a lag refresh more (a few milliseconds).
CYCLE_SECONDS = {"sqlite": 0.02, "postgresql": 0.5}
# Account-days a cycle prices before it first looks at the time: `FarePricing.price_days` costs
# a dozen statements a call plus well under a millisecond a day, so small slices spend SQLite's
# budget on the fixed part. bench/pricing.py's worker step on SQLite (load 5-6): 8 days first,
# 0.76 CPU-ms a tap; 16, 0.50; 24, 0.38, each cycle holding the write lock a few ms longer.
FIRST_SLICE = 16


@dataclass(frozen=True, slots=True)
class CycleResult:
    """One claim-price-dequeue cycle: days claimed, what pricing them did, days postponed."""

    claimed: int
    pricing: PricingSummary
    postponed: int = 0


class PricingLag:
    """The pricing lag probe: seconds since the oldest queued account-day was queued (0 when
    the queue is empty), as last measured by `refresh`. Calling it reads that measure without
    touching the database, as a metrics scrape must (`Metrics.watch_pricing_lag(lag)`)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds

    async def refresh(self, uows: UnitOfWorkFactory) -> float:
        async with uows() as uow:
            oldest = await uow.pricing_queue.oldest_dirty_since()
        now = uows.clock()
        self.seconds = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
        return self.seconds


async def price_queued(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    *,
    batch: int = DEFAULT_BATCH,
    retry_delay: timedelta = DEFAULT_RETRY_DELAY,
    cycle_seconds: float | None = None,
    timer: Callable[[], float] = time.monotonic,
) -> CycleResult:
    """One cycle: claim up to `batch` queued account-days, price them in slices until
    `cycle_seconds` (by default the database's `CYCLE_SECONDS`) of `timer` have passed since
    the claim (`FIRST_SLICE` days at least), dequeue the days priced. `claimed` counts those;
    the others stay queued, their place kept."""
    budget = CYCLE_SECONDS[uows.engine.dialect.name] if cycle_seconds is None else cycle_seconds

    async def cycle(uow: UnitOfWork) -> tuple[list[AccountDay], PricingSummary]:
        started = timer()
        keys = await uow.pricing_queue.claim(batch)
        pricing, priced, results = FarePricing(uow, feed), [], []
        pending, size, looked = sorted(keys), FIRST_SLICE, started
        while pending:
            # In slices: `price_days` costs a few statements a call whatever its size.
            sliced, pending = pending[:size], pending[size:]
            results += await pricing.price_days(sliced)
            priced += sliced
            now = timer()
            if now - started >= budget:
                break
            # the next slice fills the time left at this one's pace
            pace = (now - looked) / len(sliced)
            size = max(1, int((budget - (now - started)) / pace)) if pace > 0 else len(pending)
            looked = now
        if priced:
            await uow.pricing_queue.remove(priced)
        return priced, PricingSummary.of(results)

    try:
        keys, summary = await run_in_uow(uows, cycle)
    except TicketingError as error:
        log.warning("pricing a batch failed (%s); pricing its days one by one", error)
        return await _one_by_one(uows, feed, batch, retry_delay)
    return CycleResult(len(keys), summary)


async def _one_by_one(
    uows: UnitOfWorkFactory, feed: FareFeed, batch: int, retry_delay: timedelta
) -> CycleResult:
    async with uows() as uow:
        keys = await uow.pricing_queue.claim(batch)  # a look only: released at once
    summary, postponed = PricingSummary(), 0
    for key in keys:

        async def one(uow: UnitOfWork, key: AccountDay = key) -> PricingSummary:
            if key not in await uow.pricing_queue.claim_one(key):
                return PricingSummary()  # another worker has it (or priced it)
            priced = PricingSummary.of(await FarePricing(uow, feed).price_days([key]))
            await uow.pricing_queue.remove([key])
            return priced

        try:
            summary += await run_in_uow(uows, one)
        except TicketingError as error:
            log.warning("cannot price %s on %s: %s", key[0], key[1].isoformat(), error)

            async def postpone(uow: UnitOfWork, key: AccountDay = key) -> None:
                await uow.pricing_queue.postpone(key, uow.clock() + retry_delay)

            await run_in_uow(uows, postpone)
            postponed += 1
    return CycleResult(len(keys), summary, postponed)


@dataclass(frozen=True, slots=True)
class WorkerTotals:
    cycles: int
    claimed: int
    pricing: PricingSummary
    postponed: int


async def run_worker(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    *,
    stop: asyncio.Event,
    batch: int = DEFAULT_BATCH,
    poll: float = DEFAULT_POLL,
    once: bool = False,
    lag: PricingLag | None = None,
    retry_delay: timedelta = DEFAULT_RETRY_DELAY,
    cycle_seconds: float | None = None,
) -> WorkerTotals:
    """Price queued account-days until `stop` is set (or, with `once`, until the queue has
    nothing claimable left). A cycle in progress when `stop` is set finishes first; the lag
    probe, if given, is refreshed after every cycle."""
    cycles = claimed = postponed = 0
    pricing = PricingSummary()
    while not stop.is_set():
        try:
            result = await price_queued(
                uows, feed, batch=batch, retry_delay=retry_delay, cycle_seconds=cycle_seconds
            )
        except (SQLAlchemyError, OSError):
            # The database went away or refused the cycle (rolled back as a whole): say so,
            # wait, try again; what was claimed is still queued.
            log.exception("pricing cycle failed; retrying in %.1f s", poll)
            if once:
                raise
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
            continue
        cycles += 1
        claimed += result.claimed
        postponed += result.postponed
        pricing += result.pricing
        if lag is not None:
            await lag.refresh(uows)
        if result.claimed:
            continue  # more may be waiting (postponed days are not claimed again soon)
        if once:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll)
    return WorkerTotals(cycles, claimed, pricing, postponed)
