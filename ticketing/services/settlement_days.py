"""Use cases: what finance reads of its settlement days. `faregate settle --list`, the finance
API and the finance page call these and nothing else, so they cannot disagree
(`services.settlement.settle` is the run that writes what they read).

- `list_days`: every service day of the settlement calendar (from the first activity to the
  current day, rideless days included), with its state and, once settled, its totals;
  `day_status`: one of them. A run whose process died is listed failed, never "settling";
- `settled_figures`: a settled day's stored figures (`DayNotSettled` before);
- `day_exceptions`: the exceptions the day's run found, each with the reference finance looks
  it up by (the gateway's or the ledger's id);
- `report_file`: one of the files the run wrote (`NoSuchStatement` for any other name, or when
  the files are not where the run wrote them).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ticketing.journal import QUARANTINED_TAP, QuarantinedTap, QuarantineStatus
from ticketing.money import Money
from ticketing.service_day import service_day
from ticketing.services.settlement_inputs import DEFAULT_CURRENCY
from ticketing.services.settlement_lock import settlement_running
from ticketing.settlement.calendar import calendar_days, cut_off, day_window
from ticketing.settlement.errors import DayNotSettled, NoSuchStatement
from ticketing.settlement.states import DayState
from ticketing.settlement.writers import REPORT_TYPES
from ticketing.stores.settlement import DayRecord
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory


class DayStatus(enum.StrEnum):
    OPEN = "open"  # the cut-off has not passed: late taps may still arrive
    CLOSED = "closed"  # past its cut-off and not settled: settlement can start
    SETTLING = "settling"  # a run has begun (and, if it stopped, resumes where it stopped)
    PREPARED = "prepared"  # prepared by one finance user: waiting for a second to approve it
    FAILED = "failed"  # a run stopped on an error: its stages done are kept; retry resumes
    SETTLED = "settled"


@dataclass(frozen=True, slots=True, kw_only=True)
class SettledTotals:
    """The headline figures of a settled day."""

    taps: int
    collected: Money
    exceptions: int  # found by the day's run
    controls_ok: bool  # trial balance zero; payables + fees + suspense = money collected


@dataclass(frozen=True, slots=True, kw_only=True)
class DayListing:
    day: date
    # open | waiting (<job>) | closing (<stage>) | prepared | failed (<stage>) | settled |
    # adjustments waiting
    state: str
    status: DayStatus
    digest: str | None
    error: str | None  # why the last run failed, until a run resumes it
    adjustments_waiting: int  # later taps of a settled day, waiting for the next run
    totals: SettledTotals | None  # None until settled


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorNet:
    operator: str
    gross: Money
    net: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class SettledFigures:
    day: date
    digest: str
    closed_by: str
    closed_at: datetime
    figures: dict[str, Any]  # every settled figure, as the run stored it
    totals: SettledTotals
    statements: tuple[OperatorNet, ...]
    by_hour: tuple[Money, ...]  # 24 amounts charged, hour 0 first (Hanoi time)


@dataclass(frozen=True, slots=True, kw_only=True)
class DayException:
    kind: str
    reference: str  # what finance looks the item up by: a gateway or ledger id, else its key
    amount: Money
    first_seen: date  # the service day it arose on: its age
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFile:
    name: str
    content_type: str
    body: bytes


def _totals(figures: dict[str, Any]) -> SettledTotals:
    return SettledTotals(
        taps=int(figures["taps"]),
        collected=Money(int(figures["collected"]), figures["currency"]),
        exceptions=sum(int(n) for n in figures["exceptions"].values()),
        controls_ok=bool(figures["controls"]["ok"]),
    )


STOPPED = (
    "the run stopped after its {stage} stage (its process ended); settle the day again to resume"
)


def _listing(
    day: date, record: DayRecord | None, waiting: int, now: datetime, *, running: bool = False
) -> DayListing:
    totals = None
    error = None if record is None else record.error
    if record is None:
        state, digest = "open", None
        status = DayStatus.CLOSED if now >= cut_off(day) else DayStatus.OPEN
    elif record.state is DayState.FAILED:
        state, digest, status = f"failed ({record.stage})", None, DayStatus.FAILED
    elif not record.settled and record.job is not None and not running:
        # asked for (prepare, approve) and waiting for a settlement runner to take it
        state, digest, status = f"waiting ({record.job})", None, DayStatus.SETTLING
    elif not record.settled and record.review is not None and record.approved_by is None:
        state, digest, status = "prepared", None, DayStatus.PREPARED  # for a second user
    elif not record.settled and not running:  # its run died without recording why
        state, digest, status = f"failed ({record.stage})", None, DayStatus.FAILED
        error = STOPPED.format(stage=record.stage)
    elif not record.settled:
        state, digest, status = f"closing ({record.stage})", None, DayStatus.SETTLING
    else:
        state, digest, status = "settled", record.digest, DayStatus.SETTLED
        if waiting:
            state = "adjustments waiting"
        totals = None if record.figures is None else _totals(record.figures)
    return DayListing(
        day=day,
        state=state,
        status=status,
        digest=digest,
        error=error,
        adjustments_waiting=waiting,
        totals=totals,
    )


async def _unfinished_running(uows: UnitOfWorkFactory, records: Iterable[DayRecord]) -> set[date]:
    """The days among `records` closed, not settled nor failed, whose run holds its lock now."""
    return {
        r.day
        for r in records
        if r.state is DayState.CLOSED
        and not r.settled
        and await settlement_running(uows.engine, r.day)
    }


async def list_days(uows: UnitOfWorkFactory) -> list[DayListing]:
    """Every service day of the settlement calendar (`ticketing.settlement.calendar`: from
    the first activity to the current day, rideless days included), oldest first, each with
    its state. A constant number of statements whatever the calendar's span."""
    async with uows() as uow:
        first = await uow.settlement_day.first_activity()
        records = {r.day: r for r in await uow.settlement.days()}
        waiting = await uow.settlement.waiting_adjustments()
    now = uows.clock()
    running = await _unfinished_running(uows, records.values())
    days = set(calendar_days(first, now)) | set(records)
    return [
        _listing(day, records.get(day), waiting.get(day, 0), now, running=day in running)
        for day in sorted(days)
    ]


async def day_status(uows: UnitOfWorkFactory, day: date) -> DayListing | None:
    """`day` as `list_days` lists it; None when it is not in the calendar."""
    async with uows() as uow:
        record = await uow.settlement.day(day)
        if record is None:
            first = await uow.settlement_day.first_activity()
            if first is None or not first <= day <= service_day(uows.clock()):
                return None
        waiting = (await uow.settlement.waiting_adjustments()).get(day, 0)
    running = set() if record is None else await _unfinished_running(uows, [record])
    return _listing(day, record, waiting, uows.clock(), running=day in running)


async def _settled(uow: UnitOfWork, day: date) -> tuple[DayRecord, str, dict[str, Any]]:
    record = await uow.settlement.day(day)
    if record is None or not record.settled or record.digest is None or record.figures is None:
        raise DayNotSettled(f"service day {day} is not settled")
    return record, record.digest, record.figures


async def settled_figures(uows: UnitOfWorkFactory, day: date) -> SettledFigures:
    """A settled day's stored figures (the run's own summary left out)."""
    async with uows() as uow:
        record, digest, stored = await _settled(uow, day)
    figures = {k: v for k, v in stored.items() if k != "summary"}
    currency = figures["currency"]
    hourly = {int(hour): int(amount) for hour, amount in figures["revenue_by_hour"].items()}
    return SettledFigures(
        day=day,
        digest=digest,
        closed_by=record.closed_by,
        closed_at=record.closed_at,
        figures=figures,
        totals=_totals(figures),
        statements=tuple(
            OperatorNet(
                operator=s["operator"],
                gross=Money(int(s["gross"]), currency),
                net=Money(int(s["net"]), currency),
            )
            for s in figures["statements"]
        ),
        by_hour=tuple(Money(hourly.get(hour, 0), currency) for hour in range(24)),
    )


def _reference(key: str, detail: dict[str, Any]) -> str:
    for field in ("gateway_ref", "ledger_ref", "account"):
        value = detail.get(field)
        if isinstance(value, str) and value:
            return value
    return key


async def day_exceptions(uows: UnitOfWorkFactory, day: date) -> list[DayException]:
    """The exceptions first seen on `day` (none before its run reaches them), then the day's
    quarantined taps (`ticketing.journal`: taps the backend could not attribute or price),
    open or resolved, as soon as they are uploaded."""
    async with uows() as uow:
        found = await uow.settlement.exceptions_first_seen(day)
        quarantined = await uow.journal.between(*day_window(day))
    return [
        *(
            DayException(
                kind=e.kind,
                reference=_reference(e.key, e.detail),
                amount=Money(e.amount, e.currency),
                first_seen=e.first_seen,
                detail=e.detail,
            )
            for e in found
        ),
        *(_quarantine_exception(q, day) for q in quarantined),
    ]


def _quarantine_exception(tap: QuarantinedTap, day: date) -> DayException:
    detail: dict[str, Any] = {
        "quarantine_id": tap.id,
        "reason": tap.reason.value,
        "why": tap.detail,
        "status": tap.status.value,
        "device": tap.device_id,
        "device_seq": tap.device_seq,
        "credential": str(tap.credential_id),
        "at": tap.at.isoformat(),
        "route": tap.route_id,
        "stop": tap.stop_id,
        "kind": tap.kind.value,
    }
    if tap.status is not QuarantineStatus.OPEN:
        detail.update(
            account=tap.account_id,
            resolved_by=tap.resolved_by,
            resolved_at=None if tap.resolved_at is None else tap.resolved_at.isoformat(),
            note=tap.note,
        )
    return DayException(
        kind=QUARANTINED_TAP,
        reference=f"quarantine:{tap.id}",
        amount=Money(0, DEFAULT_CURRENCY),
        first_seen=day,
        detail=detail,
    )


async def report_file(
    uows: UnitOfWorkFactory, day: date, name: str, *, report_dir: Path
) -> ReportFile:
    """The report `name` of settled `day`, from `report_dir` (where its run wrote them)."""
    content_type = REPORT_TYPES.get(name)
    if content_type is None:
        raise NoSuchStatement(
            f"{name!r} is not a settlement report; one of {', '.join(REPORT_TYPES)}"
        )
    async with uows() as uow:
        await _settled(uow, day)
    try:
        body = await asyncio.to_thread((report_dir / name).read_bytes)
    except FileNotFoundError:
        raise NoSuchStatement(
            f"the reports of {day} are not where its run writes them (settled elsewhere, with "
            "another --report-dir?)"
        ) from None
    return ReportFile(name=name, content_type=content_type, body=body)
