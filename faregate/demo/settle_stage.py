"""Demo stage: settle the demo's service days as finance does, through the finance API with four
eyes: one demo finance user prepares each day (`POST /api/v1/finance/settlements`), the
server's settlement runner prices it and shows the charges and statements for review, a
second demo finance user approves it (`.../approve`) and the runner charges through the
gateway and reports (docs/SETTLEMENT.md §11). Then say where each day's report and exports
are and how to settle a day again from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from faregate.errors import SettleError
from faregate_data.operators import load_operators
from ticketing.audit import Actor
from ticketing.errors import UserExists
from ticketing.services.settlement import default_report_dir
from ticketing.services.users import ScryptCost, create_user
from ticketing.settlement.writers import Report
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import UserRole

# The demo's two finance users (four eyes): one prepares, the other approves. Their password
# is printed: `faregate serve --data-dir` on the demo's directory lets either sign in.
PREPARER = "lan.finance"
APPROVER = "minh.finance"
OPERATOR = "hoa.operator"
INSPECTOR = "tuan.inspector"
DEMO_PASSWORD = "demo staff password"
# Seconds a day's run may go without progress (its state, stage or counts moving) before the
# demo gives up: a city's day takes as long as its charges take, so only a stall is an error.
SETTLE_TIMEOUT = 300.0
# A failed run is asked for again, as finance would (its stages done are kept): a gateway that
# timed out on a loaded machine fails the charge stage, and the next try resumes it.
SETTLE_ATTEMPTS = 3
EXPORTS = (Report.STATEMENTS_XLSX, Report.JOURNAL_CSV, Report.PAYOUTS_XML)


@dataclass(frozen=True, slots=True, kw_only=True)
class SettledDay:
    """A settled day's figures as the finance API gives them (`GET /api/v1/finance/figures`)."""

    day: date
    digest: str
    currency: str
    taps: int
    account_days: int
    charges: int
    collected: int  # wallet debits for fares plus the gateway's net card receipts
    apportioned: dict[str, int]  # operator -> its share
    fees: int
    suspense: int
    exceptions: dict[str, int]
    control_ok: bool
    adjustments: int  # account-days of earlier settled days priced again (late taps)
    refunds: int  # what the operators' statements give back for lowered earlier days

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> SettledDay:
        figures = document["figures"]
        controls = figures["controls"]
        return cls(
            day=date.fromisoformat(document["day"]),
            digest=str(document["digest"]),
            currency=str(figures["currency"]),
            taps=int(figures["taps"]),
            account_days=int(figures["account_days"]),
            charges=int(figures["charges"]),
            collected=int(figures["collected"]),
            apportioned={str(k): int(v) for k, v in figures["apportioned"].items()},
            fees=int(controls["fees"]),
            suspense=int(controls["suspense"]),
            exceptions={str(k): int(v) for k, v in figures["exceptions"].items()},
            control_ok=bool(controls["ok"]),
            adjustments=int(figures["adjustments"]),
            refunds=sum(int(s["refunds"]) for s in figures["statements"]),
        )


@dataclass(frozen=True, slots=True)
class SettleStageResult:
    digest: str  # the demo day's (the first settled)
    control_ok: bool  # every settled day's controls hold
    report: str
    days: tuple[date, ...] = ()
    summaries: tuple[SettledDay, ...] = ()


def _absolute(path: Path) -> str:
    return os.path.abspath(path)


def settle_command_line(day: date, data_dir: Path) -> str:
    """The command that settles `day` again on the demo's directory (same data, same digest)."""
    return f"faregate settle {day.isoformat()} --data-dir {_absolute(data_dir)}"


async def add_staff(uows: UnitOfWorkFactory) -> None:
    """The demo's staff: two finance users, an operator and an inspector, added as `faregate
    users add` adds them, with a cheap password hash: signing in stays quick."""
    cheap = ScryptCost(n=2**10)
    for name, role in ((PREPARER, UserRole.FINANCE), (APPROVER, UserRole.FINANCE),
                       (OPERATOR, UserRole.OPERATOR), (INSPECTOR, UserRole.INSPECTOR)):  # fmt: skip
        with contextlib.suppress(UserExists):  # a demo run again on its directory
            await create_user(
                uows, name, DEMO_PASSWORD, role, cost=cheap, by=Actor.administrator("demo")
            )


class FinanceUser:
    """A finance user signed in to the finance API with a bearer token."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    async def sign_in(cls, http: httpx.AsyncClient, username: str) -> FinanceUser:
        answer = await http.post(
            "/api/v1/sessions", json={"username": username, "password": DEMO_PASSWORD}
        )
        answer.raise_for_status()
        return cls(http, str(answer.json()["token"]))

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self.http.request(method, path, json=body, headers=self.headers)
        if answer.status_code >= 400:
            raise SettleError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    async def ask(
        self, console: Console, day: date, request: tuple[str, str, Any], states: tuple[str, ...]
    ) -> dict[str, Any]:
        """Make `request` (method, path, body) for `day` and wait for one of `states`; a run
        that fails is asked for again (`SETTLE_ATTEMPTS` in all)."""
        for attempt in range(1, SETTLE_ATTEMPTS + 1):
            await self.call(*request)
            try:
                return await self.wait_for(day, states)
            except SettleError as error:
                if attempt == SETTLE_ATTEMPTS or "the settlement failed" not in str(error):
                    raise
                console.print(f"{error}; asked again", soft_wrap=True)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def wait_for(self, day: date, states: tuple[str, ...]) -> dict[str, Any]:
        """Poll the day's run until it reaches one of `states` (or fails, or stalls)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT
        seen = None
        while loop.time() < deadline:
            run: dict[str, Any] = await self.call("GET", f"/api/v1/finance/settlements/{day}")
            if run["state"] in states:
                return run
            if run["state"] == "failed":
                raise SettleError(f"{day}: the settlement failed: {run['error']}")
            moved = (run["state"], run["stage"], run["progress"])
            if moved != seen:
                seen, deadline = moved, loop.time() + SETTLE_TIMEOUT
            await asyncio.sleep(0.2)  # the server's runner works on it: poll its state
        raise SettleError(
            f"{day}: not {' or '.join(states)}: no progress for {SETTLE_TIMEOUT:.0f} s"
        )


async def unsettled_before(http: httpx.AsyncClient, day: date) -> tuple[date, ...]:
    """The days of the settlement calendar before `day` that are not settled, oldest first."""
    finance = await FinanceUser.sign_in(http, PREPARER)
    listing = await finance.call("GET", "/api/v1/finance/settlements")
    return tuple(
        sorted(
            earlier
            for entry in listing["days"]
            if entry["state"] != "settled" and (earlier := date.fromisoformat(entry["day"])) < day
        )
    )


async def run_settle_stage(
    console: Console,
    *,
    http: httpx.AsyncClient,
    days: tuple[date, ...],
    data_dir: Path,
    between: Callable[[date, date], Awaitable[None]] | None = None,
) -> SettleStageResult:
    """Each of `days`, oldest first, prepared by one finance user and approved by the other
    through the finance API; the server's settlement runner does the work. `between(settled,
    next)` runs after each day but the last is settled (what reaches the backend then is late
    for `settled`)."""
    preparer = await FinanceUser.sign_in(http, PREPARER)
    approver = await FinanceUser.sign_in(http, APPROVER)
    operators = load_operators()
    summaries: list[SettledDay] = []
    for number, settling in enumerate(days):
        prepare = ("POST", "/api/v1/finance/settlements", {"day": settling.isoformat()})
        prepared = await preparer.ask(console, settling, prepare, ("prepared", "settled"))
        review = prepared.get("review")
        if review is not None:
            console.print(
                f"{settling}: prepared by {prepared['prepared_by']}; for review: "
                f"{review['charges']['count']} card charges for "
                f"{review['charges']['total']:,} {review['currency']}"
            )
        approve = ("POST", f"/api/v1/finance/settlements/{settling}/approve", None)
        settled = (
            prepared
            if prepared["state"] == "settled"
            else await approver.ask(console, settling, approve, ("settled",))
        )
        document = await approver.call("GET", f"/api/v1/finance/figures?day={settling}")
        summary = SettledDay.of(document)
        summaries.append(summary)
        exceptions = ", ".join(f"{k} {v}" for k, v in summary.exceptions.items() if v) or "none"
        console.print(
            f"settled {settling} (approved by {settled['approved_by']}): collected "
            f"{summary.collected:,} {summary.currency} from {summary.taps} "
            f"taps, {summary.account_days} account-days, {summary.charges} card charges; "
            f"exceptions: {exceptions}"
        )
        if summary.adjustments:
            console.print(
                f"  adjustments of earlier days (late taps): {summary.adjustments} account-days, "
                f"{summary.refunds:,} {summary.currency} given back by the operators"
            )
        for operator, amount in summary.apportioned.items():
            console.print(f"  {operators.name(operator)} ({operator}): {amount:,}")
        folder = default_report_dir(data_dir, settling)
        console.print(f"  report: {folder / str(Report.HTML)}", soft_wrap=True)
        console.print(
            f"  exports: {', '.join(str(folder / str(e)) for e in EXPORTS)}", soft_wrap=True
        )
        console.print(f"  digest: {summary.digest}")
        if between is not None and number + 1 < len(days):
            await between(settling, days[number + 1])
    first = summaries[0] if summaries else None
    return SettleStageResult(
        digest="" if first is None else first.digest,
        control_ok=bool(summaries) and all(s.control_ok for s in summaries),
        report=""
        if first is None
        else str(default_report_dir(data_dir, first.day) / str(Report.HTML)),
        days=tuple(s.day for s in summaries),
        summaries=tuple(summaries),
    )
