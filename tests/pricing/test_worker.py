"""Pricing off the request path: ingest queues account-days, workers price each exactly once."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest

from tests.helpers.databases import wait_until_blocking
from tests.helpers.pricing import DAYS, add_riders, priced_versions, receivables, ride
from tests.helpers.waiting import until
from ticketing.fares.feed import FareFeed
from ticketing.services.pricing import FarePricing
from ticketing.services.pricing_worker import FIRST_SLICE, PricingLag, price_queued, run_worker
from ticketing.services.taps import ingest_taps
from ticketing.unit_of_work import UnitOfWorkFactory


class CycleProbe(PricingLag):
    """A lag probe that also says when a worker's cycle has ended (the worker refreshes it after
    every cycle)."""

    def __init__(self) -> None:
        super().__init__()
        self.cycled = asyncio.Event()

    async def refresh(self, uows: UnitOfWorkFactory) -> float:
        seconds = await super().refresh(uows)
        self.cycled.set()
        return seconds


async def test_ingest_queues_the_days_and_one_worker_prices_them(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    riders = await add_riders(uow_factory, 3)
    taps = [tap for rider in riders for day in DAYS for tap in ride(rider, day)]
    await ingest_taps(uow_factory, taps, feed=feed)
    async with uow_factory() as uow:
        queued = set(await uow.pricing_queue.queued())
    # An exit may close a journey begun the service day before: that day is queued too.
    assert {(r, d) for r in riders for d in DAYS} <= queued

    lag = PricingLag()
    totals = await run_worker(uow_factory, feed, stop=asyncio.Event(), once=True, lag=lag)
    assert totals.pricing.priced == len(riders) * len(DAYS)
    assert totals.claimed == len(queued)
    async with uow_factory() as uow:
        assert await uow.pricing_queue.count() == 0
    assert lag() == 0.0
    versions = await priced_versions(uow_factory)
    assert versions == Counter({(r, d): 1 for r in riders for d in DAYS})
    assert await receivables(uow_factory, riders) == 15_000 * len(riders) * len(DAYS)


async def test_a_tap_for_a_priced_day_queues_it_again_and_it_is_repriced(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    [rider] = await add_riders(uow_factory, 1)
    await ingest_taps(uow_factory, ride(rider, DAYS[0]), feed=feed)
    await price_queued(uow_factory, feed)
    queued_after = datetime.now(UTC)
    await ingest_taps(uow_factory, ride(rider, DAYS[0], time(17, 30)), feed=feed)
    async with uow_factory() as uow:
        assert (rider, DAYS[0]) in await uow.pricing_queue.queued()
        since = await uow.pricing_queue.oldest_dirty_since()
    assert since is not None
    assert queued_after <= since <= datetime.now(UTC)
    lag = PricingLag()
    seconds = await lag.refresh(uow_factory)
    assert 0.0 < seconds <= (datetime.now(UTC) - queued_after).total_seconds()
    assert lag() == seconds  # what a metrics scrape reads, without the database
    cycle = await price_queued(uow_factory, feed)
    assert cycle.pricing.repriced == 1
    async with uow_factory() as uow:
        latest = await uow.pricing.latest(rider, DAYS[0])
        assert await uow.pricing_queue.count() == 0
    assert latest is not None
    assert latest.version == 2
    assert await receivables(uow_factory, [rider]) == 30_000  # reversed, then posted again
    # Re-sending the same batch stores nothing and queues nothing.
    await ingest_taps(uow_factory, [], feed=feed)
    assert (await price_queued(uow_factory, feed)).claimed == 0


async def test_a_cycle_prices_until_its_time_is_up_and_leaves_the_rest_queued(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    """A cycle is one transaction, which on SQLite holds the database's one write lock (and on
    PostgreSQL makes an upload re-queuing a claimed day waits): it stops pricing once its time
    is up, whatever `batch` would allow, and the next cycles price the rest, each day once."""
    riders = await add_riders(uow_factory, 2 * FIRST_SLICE)
    await ingest_taps(uow_factory, [t for r in riders for t in ride(r, DAYS[0])], feed=feed)
    async with uow_factory() as uow:
        queued = await uow.pricing_queue.count()
    ticks = itertools.count()

    def timer() -> float:  # 60 ms pass between two looks: the second slice ends the cycle
        return next(ticks) * 0.06

    cycle = await price_queued(uow_factory, feed, batch=100, cycle_seconds=0.1, timer=timer)
    # The first slice took 60 ms, so the next is sized for the 40 ms left.
    assert cycle.claimed == FIRST_SLICE + FIRST_SLICE * 4 // 6
    async with uow_factory() as uow:
        assert await uow.pricing_queue.count() == queued - cycle.claimed
    await run_worker(uow_factory, feed, stop=asyncio.Event(), once=True)
    assert await priced_versions(uow_factory) == Counter({(r, DAYS[0]): 1 for r in riders})
    assert await receivables(uow_factory, riders) == 15_000 * len(riders)


async def test_a_day_that_cannot_be_priced_is_postponed_not_blocking(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    [rider] = await add_riders(uow_factory, 1)
    await ingest_taps(uow_factory, ride("acc-nobody", DAYS[0]) + ride(rider, DAYS[0]), feed=feed)
    totals = await run_worker(uow_factory, feed, stop=asyncio.Event(), once=True)
    assert totals.pricing.priced == 1
    assert totals.postponed >= 1
    async with uow_factory() as uow:
        left = await uow.pricing_queue.queued()
    assert left
    assert {account for account, _ in left} == {"acc-nobody"}
    assert await priced_versions(uow_factory) == Counter({(rider, DAYS[0]): 1})


async def test_new_taps_for_a_postponed_day_make_it_claimable_at_once(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    """Queuing a queued day again writes nothing unless it was postponed: then the
    postponement goes, and the day keeps its place (its first dirty_since)."""
    [rider] = await add_riders(uow_factory, 1)
    await ingest_taps(uow_factory, ride(rider, DAYS[0]), feed=feed)
    async with uow_factory() as uow:
        first = await uow.pricing_queue.oldest_dirty_since()
        await uow.pricing_queue.postpone((rider, DAYS[0]), datetime.now(UTC) + timedelta(hours=1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.pricing_queue.claim(10) == []
    await ingest_taps(uow_factory, ride(rider, DAYS[0], time(17, 30)), feed=feed)
    async with uow_factory() as uow:
        assert await uow.pricing_queue.claim(10) == [(rider, DAYS[0])]
        assert await uow.pricing_queue.oldest_dirty_since() == first


async def test_run_worker_waits_on_an_empty_queue_and_stops_when_told(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    stop, probe = asyncio.Event(), CycleProbe()
    task = asyncio.create_task(run_worker(uow_factory, feed, stop=stop, poll=30, lag=probe))
    await asyncio.wait_for(probe.cycled.wait(), timeout=60)  # one cycle: nothing to claim
    assert not task.done()  # waiting (up to `poll`) for the queue or the stop
    stop.set()
    totals = await asyncio.wait_for(task, timeout=60)
    assert (totals.cycles, totals.claimed) == (1, 0)  # it waited, and woke for the stop


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgresql"])
async def test_two_workers_on_postgres_price_every_queued_day_exactly_once(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    riders = await add_riders(uow_factory, 30)
    wanted = {(r, d) for r in riders for d in DAYS}
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(run_worker(uow_factory, feed, stop=stop, batch=4, poll=0.05))
        for _ in range(2)
    ]
    # Uploads keep arriving while both workers run; some ride a day already priced again.
    for day in DAYS:
        for start in range(0, len(riders), 5):
            batch = [tap for rider in riders[start : start + 5] for tap in ride(rider, day)]
            await ingest_taps(uow_factory, batch, feed=feed)
    late = riders[:5]
    await ingest_taps(
        uow_factory, [t for r in late for t in ride(r, DAYS[0], time(17, 30))], feed=feed
    )

    async def queue_empty() -> bool:
        async with uow_factory() as uow:
            return await uow.pricing_queue.count() == 0

    await until(queue_empty, "the workers empty the pricing queue")
    stop.set()
    first, second = await asyncio.gather(*workers)
    assert first.claimed, "both workers took part"
    assert second.claimed, "both workers took part"

    versions = await priced_versions(uow_factory)
    assert set(versions) == wanted
    # Each day was priced once per change: version 1, plus one re-pricing for the late rides,
    # at most (a late ride may have been stored before its day was first priced).
    assert all(n == 1 for key, n in versions.items() if key[0] not in late)
    assert all(n in (1, 2) for key, n in versions.items() if key[0] in late)
    async with uow_factory() as uow:
        assert await uow.pricing_queue.count() == 0
        for rider in late:
            latest = await uow.pricing.latest(rider, DAYS[0])
            assert latest is not None
    expected = 15_000 * len(wanted) + 15_000 * len(late)
    assert await receivables(uow_factory, riders) == expected


async def test_a_failed_cycle_is_retried_not_fatal(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from ticketing.services import pricing_worker

    [rider] = await add_riders(uow_factory, 1)
    await ingest_taps(uow_factory, ride(rider, DAYS[0]), feed=feed)
    real, calls = pricing_worker.price_queued, []

    async def flaky(*args: object, **kwargs: object) -> pricing_worker.CycleResult:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, ConnectionError("database restarting"))
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pricing_worker, "price_queued", flaky)
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(uow_factory, feed, stop=stop, poll=0.05))
    await until(lambda: priced_versions(uow_factory), "the worker prices the day")
    stop.set()
    totals = await asyncio.wait_for(task, timeout=60)
    assert totals.pricing.priced == 1
    assert len(calls) >= 2


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgresql"])
async def test_a_tap_stored_while_its_day_is_being_priced_queues_the_day_again(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    """The race an insert-or-skip would lose: the worker read the day's taps before the new
    ones committed, then dequeues the day; the new taps' queue upsert waits for it, then
    queues the day anew."""
    [rider] = await add_riders(uow_factory, 1)
    await ingest_taps(uow_factory, ride(rider, DAYS[0]), feed=feed)
    async with uow_factory() as worker:
        assert await worker.pricing_queue.claim(10) == [(rider, DAYS[0])]
        await FarePricing(worker, feed).price_days([(rider, DAYS[0])])
        late = asyncio.create_task(
            ingest_taps(uow_factory, ride(rider, DAYS[0], time(17, 30)), feed=feed)
        )
        await wait_until_blocking(uow_factory, worker.session)
        assert not late.done(), "the upsert waits for the worker's claim"
        await worker.pricing_queue.remove([(rider, DAYS[0])])
        await worker.commit()
    await asyncio.wait_for(late, timeout=10)
    async with uow_factory() as uow:
        assert await uow.pricing_queue.queued() == [(rider, DAYS[0])]
    await run_worker(uow_factory, feed, stop=asyncio.Event(), once=True)
    assert await receivables(uow_factory, [rider]) == 30_000
