"""Demo stage: settle the demo's service day on its own data directory, as finance would the
next morning, and say where the report is and how to settle it again from the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console

from faregate_data.operators import load_operators
from gateways.protocol import Gateway
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.settlement import default_report_dir, settle
from ticketing.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class SettleStageResult:
    digest: str
    control_ok: bool
    report: str


def settle_command_line(day: date, data_dir: Path) -> str:
    """The command that settles `day` again on the demo's directory (same data, same digest)."""
    return f"faregate settle {day.isoformat()} --data-dir {os.path.abspath(data_dir)}"


async def run_settle_stage(
    console: Console,
    *,
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    day: date,
    data_dir: Path,
    gateway: Gateway,
    payments: PaymentsService,
) -> SettleStageResult:
    outcome = await settle(
        uow_factory,
        feed,
        day,
        who=Actor.administrator("demo"),
        report_dir=default_report_dir(data_dir, day),
        gateway=gateway,
        payments=payments,
    )
    summary = outcome.summary
    exceptions = ", ".join(f"{k} {v}" for k, v in summary.exceptions.items() if v) or "none"
    console.print(
        f"settled {day}: collected {summary.collected.amount:,} "
        f"{summary.collected.currency} from {summary.taps} taps, "
        f"{summary.account_days} account-days, {summary.charges} card charges; "
        f"exceptions: {exceptions}"
    )
    operators = load_operators()
    for operator, amount in summary.apportioned.items():
        console.print(f"  {operators.name(operator)} ({operator}): {amount:,}")
    console.print(f"report: {summary.report}")
    console.print(f"digest: {summary.digest}")
    console.print(
        f"settle it again: {settle_command_line(day, data_dir)}",
        soft_wrap=True,
    )
    return SettleStageResult(summary.digest, summary.control_ok, summary.report)
