"""`faregate worker`: price the account-days tap uploads queued, until SIGTERM or Ctrl-C; with
`--settlements`, also run the settlements finance prepared or approved (docs/SETTLEMENT.md §11).

Any number of workers, on any number of machines sharing one PostgreSQL database, share the
queue (`ticketing.services.pricing_worker`) and the settlement jobs (each day run by one at a
time, under its lock). On SIGTERM/SIGINT the cycle in progress finishes (its transaction commits
or rolls back as a whole), then the worker exits 0; a settlement job in progress is stopped
between two charges at most and left waiting (its stages done are kept) for the next runner.
The settlement runner charges through the gateway FAREGATE_GATEWAY names, as `faregate settle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click

from faregate.cli._common import finite, simulated_clock
from faregate.config import Settings
from faregate.database import open_database
from faregate.gateway_runtime import gateway_from_environment, vnpay_from_environment
from faregate.outbox_runtime import open_outbox
from faregate_data import HANOI_FEED
from qr.timeutil import Clock, utc_now
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.pricing_worker import (
    DEFAULT_BATCH,
    DEFAULT_POLL,
    PricingLag,
    WorkerTotals,
    run_worker,
)
from ticketing.services.settlement import default_report_dir
from ticketing.services.settlement_runner import SettlementRunner
from ticketing.unit_of_work import UnitOfWorkFactory


async def _settlements(
    settings: Settings, uows: UnitOfWorkFactory, feed: FareFeed, stop: asyncio.Event, once: bool
) -> int:
    """Run settlement jobs until `stop` (or once, what waits now); how many ran."""
    gateway = gateway_from_environment()
    vnpay = vnpay_from_environment()
    async with gateway.open(settings.data_dir) as runtime:
        runner = SettlementRunner(
            uows=uows,
            feed=feed,
            report_dir=lambda day: default_report_dir(settings.data_dir, day),
            gateway=runtime.gateway,
            payments=PaymentsService(
                uows, runtime.gateway, gateway_name=runtime.name, outbox=open_outbox(settings)
            ),
            vnpay=vnpay,
        )
        if once:
            return len(await runner.run_waiting())
        work = asyncio.create_task(runner.serve(stop))
        await stop.wait()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        return 0


READY = "faregate worker: started"


async def _work(
    settings: Settings,
    feed_path: Path,
    *,
    once: bool,
    batch: int,
    poll: float,
    settlements: bool = False,
    clock: Clock = utc_now,
) -> tuple[WorkerTotals, float, int]:
    feed = await asyncio.to_thread(load_feed, feed_path)
    engine = await open_database(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # From here a SIGTERM ends the worker cleanly; whoever started it may wait for this line.
    click.echo(READY, err=True)
    try:
        uows = UnitOfWorkFactory(engine, clock)
        lag = PricingLag()
        settling = (
            asyncio.create_task(_settlements(settings, uows, feed, stop, once))
            if settlements
            else None
        )
        totals = await run_worker(uows, feed, stop=stop, batch=batch, poll=poll, once=once, lag=lag)
        if settling is not None and once:
            ran = await settling
        elif settling is not None:
            await stop.wait()
            ran = await settling
        else:
            ran = 0
        return totals, lag(), ran
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
@click.option(
    "--settlements",
    is_flag=True,
    help="Also run the settlements finance prepared or approved (off `faregate serve`).",
)
@click.option(
    "--simulated-time",
    metavar="ISO",
    default=None,
    help="Run the worker's clock from this instant (ISO 8601 with a UTC offset) instead of "
    "now, as `faregate serve --simulated-time` does; `faregate demo --servers N` runs its "
    "worker on the simulated day this way.",
)
@click.pass_obj
def worker(
    settings: Settings,
    once: bool,
    batch: int,
    poll: float,
    fare_feed: Path,
    settlements: bool,
    simulated_time: str | None,
) -> None:
    """Price the account-days that tap uploads queued (pricing off the request path); with
    --settlements, also run the settlement jobs finance left."""
    clock = simulated_clock(simulated_time)
    work = _work(settings, fare_feed, once=once, batch=batch, poll=poll, settlements=settlements,
                 clock=clock)  # fmt: skip
    totals, lag, ran = asyncio.run(work)
    click.echo(
        f"priced {totals.pricing.priced} new and {totals.pricing.repriced} changed account-days"
        f" ({totals.pricing.unchanged} unchanged, {totals.postponed} postponed) in "
        f"{totals.cycles} cycles; pricing lag {lag:.1f}s"
        + (f"; {ran} settlement jobs run" if settlements and once else "")
    )
