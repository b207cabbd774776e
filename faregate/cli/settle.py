"""`faregate settle`: close, price, charge, reconcile, apportion and report one service day.

    faregate settle DAY [--data-dir DIR] [--database-url URL] [--dry-run]
                        [--report-dir DIR] [--json]
    faregate settle --list [--data-dir DIR] [--json]

The gateway is the one FAREGATE_GATEWAY names (`faregate.gateway_runtime`): by default
STRIPE_API_KEY/STRIPE_API_BASE if set, else the private localstripe of DATA_DIR/localstripe (the
one `faregate serve` runs there, or one started on the state it left).
Without --json, the stages show as progress bars (rich, on stderr): each stage's counts done of
total (account-days priced, cards charged). The run is an administrator's (the login name):
it stands as the day's preparer and approver, and is in the audit log as such
(`settlement-started`).
Test hook: FAREGATE_SETTLE_CRASH_AFTER=<stage> kills the process (SIGKILL) right after that
stage commits, to prove a rerun completes the day.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from faregate.cli._common import administrator
from faregate.config import Settings
from faregate.database import check_reachable, database_url, open_database, sqlite_file
from faregate.gateway_runtime import GatewayConfig, gateway_from_environment, vnpay_from_environment
from faregate.outbox_runtime import open_outbox
from faregate_data import HANOI_FEED
from faregate_data.operators import load_operators
from ticketing.fares.feed import load_feed
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.settlement import SettlementOutcome, default_report_dir, settle
from ticketing.services.settlement_days import list_days
from ticketing.settlement.states import Stage
from ticketing.unit_of_work import UnitOfWorkFactory

CRASH_ENV = "FAREGATE_SETTLE_CRASH_AFTER"


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.ClickException(
            f"{value!r} is not a service day: write it as YYYY-MM-DD, e.g. 2026-11-24"
        ) from None


def _after_stage(bars: _Bars | None) -> Callable[[Stage], None]:
    target = os.environ.get(CRASH_ENV)

    def hook(stage: Stage) -> None:
        if bars is not None:
            bars.stage_done(stage)
        if target and stage == target:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


class _Bars:
    """One rich progress bar per stage, on stderr, advanced by the run's progress hook."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[Stage, TaskID] = {}

    def _task(self, stage: Stage) -> TaskID:
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(str(stage), total=None)
        return self._tasks[stage]

    async def progress(self, stage: Stage, done: int, total: int) -> None:
        self._progress.update(self._task(stage), completed=done, total=max(total, 1))

    def stage_done(self, stage: Stage) -> None:
        task = self._task(stage)
        found = self._progress.tasks[self._tasks[stage]]
        total = found.total if found.total is not None else 1
        self._progress.update(task, total=total, completed=total)


async def _settle(
    settings: Settings,
    gateway: GatewayConfig,
    day: date,
    *,
    report_dir: Path,
    dry_run: bool,
    bars: _Bars | None = None,
) -> SettlementOutcome:
    url = database_url(settings)
    await check_reachable(url)
    engine = await open_database(url)
    try:
        uows = UnitOfWorkFactory(engine)
        feed = load_feed(HANOI_FEED)
        async with gateway.open(settings.data_dir) as runtime:
            payments = PaymentsService(
                uows, runtime.gateway, gateway_name=runtime.name, outbox=open_outbox(settings)
            )
            return await settle(
                uows,
                feed,
                day,
                who=administrator(),
                report_dir=report_dir,
                gateway=runtime.gateway,
                payments=payments,
                vnpay=vnpay_from_environment(),
                dry_run=dry_run,
                after_stage=_after_stage(bars),
                progress=None if bars is None else bars.progress,
            )
    finally:
        await engine.dispose()


async def _list(settings: Settings) -> list[dict[str, Any]]:
    url = database_url(settings)
    await check_reachable(url)
    engine = await open_database(url)
    try:
        return [
            {
                "day": item.day.isoformat(),
                "state": item.state,
                "digest": item.digest,
                "error": item.error,
                "adjustments_waiting": item.adjustments_waiting,
            }
            for item in await list_days(UnitOfWorkFactory(engine))
        ]
    finally:
        await engine.dispose()


@click.command(name="settle")
@click.argument("day", required=False)
@click.option("--list", "list_days_", is_flag=True, help="List the service days and their state.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data directory (default: the global --data-dir).",
)
@click.option("--database-url", default=None, help="Database URL (default: the global one).")
@click.option(
    "--dry-run", is_flag=True, help="Compute and report without closing, charging or posting."
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the reports go (default DATA_DIR/settlement/DAY).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (a list with --list).")
@click.pass_obj
def settle_command(
    settings: Settings,
    day: str | None,
    list_days_: bool,
    data_dir: Path | None,
    database_url: str | None,
    dry_run: bool,
    report_dir: Path | None,
    as_json: bool,
) -> None:
    """Settle service DAY (YYYY-MM-DD, Asia/Ho_Chi_Minh) for finance, or --list the days."""
    if data_dir is not None:
        settings = replace(settings, data_dir=data_dir)
    if database_url is not None:
        settings = replace(settings, database_url=database_url)
    if list_days_ and day is not None:
        raise click.ClickException("give either DAY or --list, not both")
    if not list_days_ and day is None:
        raise click.ClickException("give the service DAY to settle (YYYY-MM-DD), or --list")
    service_day = None if day is None else parse_day(day)
    if data_dir is not None and not data_dir.is_dir():
        raise click.ClickException(f"no data directory at {data_dir}")
    path = sqlite_file(settings.effective_database_url) if not settings.database_url else None
    if path is not None and not path.exists():
        raise click.ClickException(
            f"no database at {path}: nothing to settle in {settings.data_dir}"
        )
    if list_days_:
        rows = asyncio.run(_list(settings))
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            click.echo("no service day has taps")
        for row in rows:
            click.echo(f"{row['day']}  {row['state']:<22} {row['digest'] or row['error'] or ''}")
        return
    assert service_day is not None
    gateway = gateway_from_environment()
    reports = report_dir or default_report_dir(settings.data_dir, service_day)
    if as_json or dry_run:
        outcome = asyncio.run(
            _settle(settings, gateway, service_day, report_dir=reports, dry_run=dry_run)
        )
    else:
        columns = (
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=Console(stderr=True)) as shown:
            outcome = asyncio.run(
                _settle(
                    settings,
                    gateway,
                    service_day,
                    report_dir=reports,
                    dry_run=dry_run,
                    bars=_Bars(shown),
                )
            )
    summary = outcome.summary
    if as_json:
        click.echo(json.dumps(summary.as_json(), indent=2, sort_keys=True))
        return
    state = "dry run" if dry_run else ("already settled" if outcome.already_settled else "settled")
    click.echo(f"{summary.day}: {state}")
    click.echo(
        f"  taps {summary.taps}, account-days {summary.account_days}, "
        f"card charges {summary.charges}, adjustments {summary.adjustments}"
    )
    click.echo(f"  collected {summary.collected.amount} {summary.collected.currency}")
    operators = load_operators()
    for operator, amount in summary.apportioned.items():
        click.echo(f"    {operators.name(operator)} ({operator}): {amount}")
    exceptions = ", ".join(f"{k} {v}" for k, v in summary.exceptions.items() if v) or "none"
    click.echo(f"  exceptions: {exceptions}")
    click.echo(f"  controls: {'hold' if summary.control_ok else 'DO NOT HOLD'}")
    click.echo(f"  report: {summary.report}")
    click.echo(f"  digest: {summary.digest}")
