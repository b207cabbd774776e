"""Starting a settlement from the finance API or page: `ticketing.services.settlement.settle`
with the app's database, fare feed, gateway and payments, `who` the finance user.

The run is the same as `faregate settle`'s, its reports where that puts them by default
(`DATA_DIR/settlement/DAY/`), and its refusals its own: `DayNotClosed` before the cut-off,
`SettlementInProgress` at once while another run of the day holds its lock (this server, a
second one, or `faregate settle`). A gateway failure mid-run is a 502 whose detail says that
starting again resumes (the stages done are checkpointed). The run is shielded from a client
that hangs up: it finishes and stores its figures, and starting it again returns them.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from aiohttp import web

from faregate.api.context import CONFIG, GATEWAY, PAYMENTS, PRICING_FEED, UOWS
from faregate.api.errors import Problem
from gateways.errors import GatewayError
from ticketing.audit import Actor
from ticketing.services.settlement import SettlementOutcome, default_report_dir, settle


def report_dir(app: web.Application, day: date) -> Path:
    """Where the app's settlement of `day` writes its reports."""
    return default_report_dir(app[CONFIG].settings.data_dir, day)


async def start_settlement(app: web.Application, day: date, who: Actor) -> SettlementOutcome:
    """Settle `day` (see the module docstring)."""
    run = asyncio.ensure_future(
        settle(
            app[UOWS],
            app[PRICING_FEED],
            day,
            who=who,
            report_dir=report_dir(app, day),
            gateway=app[GATEWAY],
            payments=app[PAYMENTS],
        )
    )
    try:
        return await asyncio.shield(run)
    except GatewayError as error:  # the stages done so far are kept; a new start resumes
        raise Problem(
            502, "gateway", "Bad Gateway",
            f"the payment gateway failed during the settlement of {day} ({error}); the "
            "stages done are kept and starting it again resumes from there",
        ) from error  # fmt: skip
