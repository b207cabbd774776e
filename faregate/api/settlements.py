"""Settlements from the finance API and page: requests answered at once, the work done by the
app's settlement runner (`ticketing.services.settlement_runner`) off the request.

`prepare` and `approve` leave the work on the day's record (`ticketing.services.
settlement_runs`) and wake this server's runner; any runner sharing the database (another
server, `faregate worker --settlements`) may take it. Reports go where `faregate settle` puts
them by default (`DATA_DIR/settlement/DAY/`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

from aiohttp import web

from faregate.api.context import CONFIG, GATEWAY, PAYMENTS, PRICING_FEED, UOWS
from ticketing.audit import Actor
from ticketing.services.settlement import default_report_dir
from ticketing.services.settlement_runner import SettlementRunner
from ticketing.services.settlement_runs import SettlementRun, request_approval, request_prepare

SETTLEMENT_RUNNER = web.AppKey("settlement_runner", SettlementRunner)


def report_dir(app: web.Application, day: date) -> Path:
    """Where the app's settlement of `day` writes its reports."""
    return default_report_dir(app[CONFIG].settings.data_dir, day)


def _wake(app: web.Application) -> None:
    runner = app.get(SETTLEMENT_RUNNER)
    if runner is not None:
        runner.wake.set()


async def prepare(app: web.Application, day: date, who: Actor) -> SettlementRun:
    """Ask for `day` to be prepared by `who`; answers the run at once."""
    run = await request_prepare(app[UOWS], day, who)
    _wake(app)
    return run


async def approve(app: web.Application, day: date, who: Actor) -> SettlementRun:
    """Approve prepared `day` as `who`; answers the run at once."""
    run = await request_approval(app[UOWS], day, who)
    _wake(app)
    return run


async def settlement_runner(app: web.Application) -> AsyncIterator[None]:
    """The server's own settlement runner (unless `ApiConfig.settlement_runner` is off: then
    `faregate worker --settlements` processes do the work); stopped before the database
    closes, a job in progress cancelled (its stages done are kept, the job waits)."""
    runner = SettlementRunner(
        uows=app[UOWS],
        feed=app[PRICING_FEED],
        report_dir=lambda day: report_dir(app, day),
        gateway=app[GATEWAY],
        payments=app[PAYMENTS],
        vnpay=app[CONFIG].vnpay,
    )
    app[SETTLEMENT_RUNNER] = runner
    if not app[CONFIG].settlement_runner:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(runner.serve(stop), name="settlement-runner")
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
