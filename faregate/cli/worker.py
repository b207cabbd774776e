"""`faregate worker`: price the account-days tap uploads queued, until SIGTERM or Ctrl-C.

Any number of workers, on any number of machines sharing one PostgreSQL database, share the
queue (`ticketing.services.pricing_worker`). On SIGTERM/SIGINT the cycle in progress finishes
(its transaction commits or rolls back as a whole), then the worker exits 0.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from faregate.cli._common import finite
from faregate.config import Settings
from faregate.database import open_database
from faregate_data import HANOI_FEED
from ticketing.fares.feed import load_feed
from ticketing.services.pricing_worker import (
    DEFAULT_BATCH,
    DEFAULT_POLL,
    PricingLag,
    WorkerTotals,
    run_worker,
)
from ticketing.unit_of_work import UnitOfWorkFactory


async def _work(
    settings: Settings, feed_path: Path, *, once: bool, batch: int, poll: float
) -> tuple[WorkerTotals, float]:
    feed = await asyncio.to_thread(load_feed, feed_path)
    engine = await open_database(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        uows = UnitOfWorkFactory(engine)
        lag = PricingLag()
        totals = await run_worker(uows, feed, stop=stop, batch=batch, poll=poll, once=once, lag=lag)
        return totals, lag()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await engine.dispose()


@click.command()
@click.option("--once", is_flag=True, help="Exit once nothing is left to claim.")
@click.option(
    "--batch",
    default=DEFAULT_BATCH,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Account-days claimed and priced per transaction.",
)
@click.option(
    "--poll",
    default=DEFAULT_POLL,
    show_default=True,
    type=click.FloatRange(0.01, 3600),
    callback=finite,
    help="Seconds to wait before looking again when the queue is empty.",
)
@click.option(
    "--fare-feed",
    type=click.Path(exists=True, path_type=Path),
    default=HANOI_FEED,
    show_default="the shipped Hanoi feed",
    help="GTFS fare feed (folder or zip) to price with; the one `faregate serve` uses.",
)
@click.pass_obj
def worker(settings: Settings, once: bool, batch: int, poll: float, fare_feed: Path) -> None:
    """Price the account-days that tap uploads queued (pricing off the request path)."""
    totals, lag = asyncio.run(_work(settings, fare_feed, once=once, batch=batch, poll=poll))
    click.echo(
        f"priced {totals.pricing.priced} new and {totals.pricing.repriced} changed account-days"
        f" ({totals.pricing.unchanged} unchanged, {totals.postponed} postponed) in "
        f"{totals.cycles} cycles; pricing lag {lag:.1f}s"
    )
