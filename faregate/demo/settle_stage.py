"""Demo stage: settle the demo's service days on its own data directory, as finance would the
next morning, with four eyes: one demo finance user prepares each day, the settlement runner
prices it and shows the charges and statements for review, a second demo finance user
approves it and the runner charges and reports (docs/SETTLEMENT.md §11). Then say where each
day's report and exports are, how to sign in to the finance page as either user, and how to
settle a day again from the command line."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console

from faregate_data.operators import load_operators
from gateways.protocol import Gateway
from ticketing.audit import Actor, ActorRole
from ticketing.errors import UserExists
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.settlement import default_report_dir
from ticketing.services.settlement_runner import SettlementRunner
from ticketing.services.settlement_runs import request_approval, request_prepare, run_of
from ticketing.services.users import ScryptCost, create_user
from ticketing.settlement.summary import SettlementSummary
from ticketing.settlement.writers import Report
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import UserRole

# The demo's two finance users (four eyes): one prepares, the other approves. Their password
# is printed: `faregate serve --data-dir` on the demo's directory lets either sign in.
PREPARER = "lan.finance"
APPROVER = "minh.finance"
DEMO_PASSWORD = "demo finance password"
EXPORTS = (Report.STATEMENTS_XLSX, Report.JOURNAL_CSV, Report.PAYOUTS_XML)


@dataclass(frozen=True, slots=True)
class SettleStageResult:
    digest: str  # the demo day's (the first settled)
    control_ok: bool  # every settled day's controls hold
    report: str
    days: tuple[date, ...] = ()


def _absolute(path: Path) -> str:
    return os.path.abspath(path)


def settle_command_line(day: date, data_dir: Path) -> str:
    """The command that settles `day` again on the demo's directory (same data, same digest)."""
    return f"faregate settle {day.isoformat()} --data-dir {_absolute(data_dir)}"


async def _finance_users(uows: UnitOfWorkFactory) -> tuple[Actor, Actor]:
    cheap = ScryptCost(n=2**10)  # a demo's users: signing in stays quick
    for name in (PREPARER, APPROVER):
        with contextlib.suppress(UserExists):  # a demo run again on its directory
            await create_user(
                uows, name, DEMO_PASSWORD, UserRole.FINANCE, cost=cheap,
                by=Actor.administrator("demo"),
            )  # fmt: skip
    return Actor(PREPARER, ActorRole.FINANCE), Actor(APPROVER, ActorRole.FINANCE)


async def run_settle_stage(
    console: Console,
    *,
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    day: date,
    data_dir: Path,
    gateway: Gateway,
    payments: PaymentsService,
    days: tuple[date, ...] | None = None,
) -> SettleStageResult:
    """Prepare and approve each of `days` (default: `day` alone), oldest first."""
    preparer, approver = await _finance_users(uow_factory)
    runner = SettlementRunner(
        uows=uow_factory,
        feed=feed,
        report_dir=lambda d: default_report_dir(data_dir, d),
        gateway=gateway,
        payments=payments,
    )
    operators = load_operators()
    summaries: list[SettlementSummary] = []
    for settling in days or (day,):
        await request_prepare(uow_factory, settling, preparer)
        await runner.run_waiting()
        prepared = await run_of(uow_factory, settling)
        if prepared.review is not None:
            review = prepared.review
            console.print(
                f"{settling}: prepared by {prepared.prepared_by}; for review: "
                f"{review.charges} card charges for {review.charges_total:,} {review.currency}"
            )
        await request_approval(uow_factory, settling, approver)
        await runner.run_waiting()
        settled = await run_of(uow_factory, settling)
        if settled.error is not None:
            console.print(f"{settling}: [red]{settled.state}[/red]: {settled.error}")
            continue
        async with uow_factory() as uow:
            record = await uow.settlement.day(settling)
        assert record is not None
        assert record.figures is not None
        summary = SettlementSummary.from_json(record.figures["summary"])
        summaries.append(summary)
        exceptions = ", ".join(f"{k} {v}" for k, v in summary.exceptions.items() if v) or "none"
        console.print(
            f"settled {settling} (approved by {settled.approved_by}): collected "
            f"{summary.collected.amount:,} {summary.collected.currency} from {summary.taps} "
            f"taps, {summary.account_days} account-days, {summary.charges} card charges; "
            f"exceptions: {exceptions}"
        )
        for operator, amount in summary.apportioned.items():
            console.print(f"  {operators.name(operator)} ({operator}): {amount:,}")
        folder = Path(summary.report).parent
        console.print(f"  report: {summary.report}")
        console.print(f"  exports: {', '.join(str(folder / str(e)) for e in EXPORTS)}")
        console.print(f"  digest: {summary.digest}")
    first = summaries[0] if summaries else None
    console.print(
        f"finance page: faregate serve --data-dir {_absolute(data_dir)}, then /finance "
        f"signed in as {PREPARER} or {APPROVER} (password {DEMO_PASSWORD!r})",
        soft_wrap=True,
    )
    console.print(f"settle it again: {settle_command_line(day, data_dir)}", soft_wrap=True)
    return SettleStageResult(
        digest="" if first is None else first.digest,
        control_ok=bool(summaries) and all(s.control_ok for s in summaries),
        report="" if first is None else first.report,
        days=tuple(s.day for s in summaries),
    )
