"""The finance API's settlement backend: `faregate.api.staff.Settlements` over
`ticketing.services.settlement`, with the app's own database, fare feed, gateway and payments.

- `start` runs the whole settlement of a day in the request (the same `settle` as `faregate
  settle`, `who` the finance user). Before the day's cut-off: 409 `day-not-closed`. A second
  start of the same day while one runs: 409 `settlement-in-progress` at once (it does not
  wait): the run's own lock (a PostgreSQL advisory lock or a `flock`, so across processes and
  against `faregate settle`), plus an in-process guard for a database without a lock file.
  A gateway failure mid-run: 502 (the stages done are checkpointed; a new start resumes).
  The run is shielded from a client that hangs up: it finishes and stores its figures, and
  starting it again returns them (`already_settled`).
- Reports go where `faregate settle` puts them by default, `DATA_DIR/settlement/DAY/`, and are
  downloaded from there by name (only the names the run writes) once the day is settled.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from faregate.api.context import CONFIG, GATEWAY, PAYMENTS, PRICING_FEED, UOWS
from faregate.api.errors import Problem
from faregate.api.staff import (
    SettlementDay,
    SettlementException,
    SettlementFigures,
    SettlementStarted,
)
from gateways.errors import GatewayError
from ticketing.services.settlement import list_days, settle
from ticketing.settlement.errors import DayNotClosed, SettlementInProgress

# The files a run writes (ticketing.settlement.writers.write_reports) and their types.
STATEMENT_TYPES = {
    "statements.csv": "text/csv",
    "statements.json": "application/json",
    "exceptions.csv": "text/csv",
    "exceptions.json": "application/json",
    "controls.json": "application/json",
    "settlement.json": "application/json",
    "report.html": "text/html",
}
RUN_RECORD = "_run"  # the reconcile stage's own summary row, not an exception
STATEMENTS_PATH = "/api/v1/finance/statements"


def report_dir(data_dir: Path, day: date) -> Path:
    """Where a day's reports go (the default of `faregate settle --report-dir`)."""
    return data_dir / "settlement" / day.isoformat()


def _in_progress(day: date) -> Problem:
    return Problem(
        409, "settlement-in-progress", "Settlement in progress",
        f"a settlement of {day} is already running; retry when it has finished",
    )  # fmt: skip


def _not_settled(day: date) -> Problem:
    return Problem(404, "not-settled", "Day not settled", f"service day {day} is not settled")


class AppSettlements:
    """Settlements of the app's database; the app's resources are read at call time (they are
    opened by its cleanup contexts after this object is made)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._running: set[date] = set()

    async def start(self, day: date, who: str) -> SettlementStarted:
        if day in self._running:
            raise _in_progress(day)
        app = self._app
        self._running.add(day)
        try:
            run = asyncio.ensure_future(
                settle(
                    app[UOWS],
                    app[PRICING_FEED],
                    day,
                    who=who,
                    report_dir=report_dir(app[CONFIG].settings.data_dir, day),
                    gateway=app[GATEWAY],
                    payments=app[PAYMENTS],
                )
            )
            run.add_done_callback(lambda _: self._running.discard(day))
        except BaseException:
            self._running.discard(day)
            raise
        try:
            outcome = await asyncio.shield(run)
        except DayNotClosed as error:
            raise Problem(409, "day-not-closed", "Day not closed", str(error)) from None
        except SettlementInProgress:
            raise _in_progress(day) from None
        except GatewayError as error:  # the stages done so far are kept; a new start resumes
            raise Problem(
                502, "gateway", "Bad Gateway",
                f"the payment gateway failed during the settlement of {day} ({error}); the "
                "stages done are kept and starting it again resumes from there",
            ) from error  # fmt: skip
        summary = dict(outcome.summary)
        summary["report"] = f"{STATEMENTS_PATH}?day={day.isoformat()}&name=report.html"
        return SettlementStarted(day, outcome.already_settled, summary)

    async def days(self) -> list[SettlementDay]:
        return [
            SettlementDay(d.day, d.state, d.digest, d.adjustments_waiting)
            for d in await list_days(self._app[UOWS])
        ]

    async def figures(self, day: date) -> SettlementFigures:
        async with self._app[UOWS]() as uow:
            record = await uow.settlement.day(day)
        if record is None or record.digest is None or record.figures is None:
            raise _not_settled(day)
        figures = {k: v for k, v in record.figures.items() if k != "summary"}
        return SettlementFigures(
            day=day,
            digest=record.digest,
            closed_by=record.closed_by,
            closed_at=record.closed_at,
            figures=figures,
        )

    async def exceptions(self, day: date) -> list[SettlementException]:
        async with self._app[UOWS]() as uow:
            found = await uow.settlement.exceptions_first_seen(day)
        return [
            SettlementException(
                kind=e.kind,
                reference=_reference(e.key, e.detail),
                amount=e.amount,
                currency=e.currency,
                first_seen=e.first_seen,
                detail=json.dumps(e.detail, sort_keys=True, ensure_ascii=False),
            )
            for e in found
            if e.kind != RUN_RECORD
        ]

    async def statement(self, day: date, name: str) -> tuple[bytes, str]:
        content_type = STATEMENT_TYPES.get(name)
        if content_type is None:
            raise Problem(
                404, "no-such-statement", "No such statement",
                f"{name!r} is not a settlement report; one of {', '.join(STATEMENT_TYPES)}",
            )  # fmt: skip
        async with self._app[UOWS]() as uow:
            record = await uow.settlement.day(day)
        if record is None or record.digest is None:
            raise _not_settled(day)
        path = report_dir(self._app[CONFIG].settings.data_dir, day) / name
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise Problem(
                404, "no-such-statement", "No such statement",
                f"the reports of {day} are not in this server's data directory "
                "(settled elsewhere with another --report-dir?)",
            ) from None  # fmt: skip
        return body, content_type


def _reference(key: str, detail: dict[str, Any]) -> str:
    """What finance looks the item up by: the gateway's or the ledger's id, else its key."""
    for field in ("gateway_ref", "ledger_ref", "account"):
        value = detail.get(field)
        if isinstance(value, str) and value:
            return value
    return key
