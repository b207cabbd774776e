"""Use cases: a day's settlement as finance runs it, off the request and with four eyes
(issue 19; docs/SETTLEMENT.md §11).

- `request_prepare`: a finance user asks to prepare a closed day. The day is closed in the
  request (who, when, the watermarks) and `Job.PREPARE` is left on its record for a runner
  (`settlement_runner`): price, then the figures for review. Answers at once.
- `request_approval`: a second finance user approves a prepared day; `Job.APPROVE` is left for
  a runner: charge, reconcile, apportion, report. The user who prepared it cannot approve it
  (`FourEyes`), nor can anyone approve a day not prepared (`NotPrepared`).
- `run_of`: the day's run as the API and the page show it (`RunState`, the stage done and the
  one running with its counts done of total, who prepared and who approved, the error, the
  figures for review).

Each request is in the audit log (settlement-prepared, settlement-approved), in the
transaction that leaves the work. A request while other work waits on the day changes nothing
and answers the run as it is; a failed run is retried by asking again (prepare if it failed
preparing, approve once approved): its stages done are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError

from ticketing.audit import Actor, ActorRole, AuditAction, Target, TargetKind
from ticketing.services import audit
from ticketing.settlement.calendar import check_settleable, cut_off, day_window
from ticketing.settlement.errors import (
    AlreadyApproved,
    FourEyes,
    NotPrepared,
    ReviewOutdated,
    SettlementForbidden,
)
from ticketing.settlement.review import DayReview
from ticketing.settlement.states import DayState, Job, RunState, Stage
from ticketing.stores.settlement import DayRecord
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

STAFF_WHO_SETTLE = frozenset({ActorRole.FINANCE, ActorRole.ADMINISTRATOR})


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """The stage running now and its counts done of total."""

    stage: Stage
    done: int
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementRun:
    day: date
    state: RunState
    stage: Stage | None  # the last stage done (None: not closed)
    job: Job | None  # work waiting for (or held by) a runner
    progress: Progress | None  # while a runner works on the day
    prepared_by: str | None
    prepared_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    error: str | None
    review: DayReview | None
    digest: str | None


def _state(day: date, record: DayRecord | None, now: datetime) -> RunState:
    if record is None:
        return RunState.CLOSED if now >= cut_off(day) else RunState.OPEN
    if record.settled:
        return RunState.SETTLED
    if record.state is DayState.FAILED:
        return RunState.FAILED
    if record.job is Job.PREPARE:
        return RunState.PREPARING
    if record.job is Job.APPROVE or record.approved_by is not None:
        return RunState.SETTLING
    if record.review is not None:
        return RunState.PREPARED
    return RunState.PREPARING  # closed by a run of every stage that is still going


def run_view(day: date, record: DayRecord | None, now: datetime) -> SettlementRun:
    """`day`'s run from its record (None: never closed)."""
    if record is None:
        return SettlementRun(
            day=day, state=_state(day, None, now), stage=None, job=None, progress=None,
            prepared_by=None, prepared_at=None, approved_by=None, approved_at=None,
            error=None, review=None, digest=None,
        )  # fmt: skip
    progress = (
        None
        if record.job_stage is None
        else Progress(
            stage=record.job_stage, done=record.progress_done, total=record.progress_total
        )
    )
    return SettlementRun(
        day=day,
        state=_state(day, record, now),
        stage=record.stage,
        job=record.job,
        progress=progress,
        prepared_by=record.prepared_by,
        prepared_at=record.prepared_at,
        approved_by=record.approved_by,
        approved_at=record.approved_at,
        error=record.error,
        review=None if record.review is None else DayReview.from_json(record.review),
        digest=record.digest,
    )


async def run_of(uows: UnitOfWorkFactory, day: date) -> SettlementRun:
    """`day`'s settlement run as it stands."""
    async with uows() as uow:
        record = await uow.settlement.day(day)
    return run_view(day, record, uows.clock())


def _allowed(who: Actor) -> None:
    if who.role not in STAFF_WHO_SETTLE:
        raise SettlementForbidden(f"{who.role} users cannot prepare or approve a settlement")


def _target(day: date) -> Target:
    return Target(TargetKind.SERVICE_DAY, day.isoformat())


async def request_prepare(uows: UnitOfWorkFactory, day: date, who: Actor) -> SettlementRun:
    """Close `day` and leave its preparation to a runner (module docstring)."""
    _allowed(who)

    async def ask(uow: UnitOfWork) -> None:
        # a closed day of the calendar (DayOutsideCalendar, DayNotClosed otherwise)
        check_settleable(day, await uow.settlement_day.first_activity(), uow.clock())
        record = await uow.settlement.day(day)
        if record is not None and (record.settled or record.job is not None):
            return  # settled, or work already waiting: the run as it is
        if record is not None and record.approved_by is not None:
            raise AlreadyApproved(
                f"{day} was approved by {record.approved_by}: retry its approval to resume"
            )
        if record is None:
            await uow.settlement.close(day, who=who.name, at=uow.clock())
        if await uow.settlement.request_job(day, Job.PREPARE, who=who.name, at=uow.clock()):
            await audit.record(
                uow, who, AuditAction.SETTLEMENT_PREPARED, _target(day),
                after=None if record is None else {"again_after": str(record.stage)},
            )  # fmt: skip

    try:
        await run_in_uow(uows, ask)
    except IntegrityError:  # another request closed the day first: its work is waiting
        await run_in_uow(uows, ask)
    return await run_of(uows, day)


async def request_approval(uows: UnitOfWorkFactory, day: date, who: Actor) -> SettlementRun:
    """Approve prepared `day`: its charges, reconciliation and reports left to a runner
    (module docstring)."""
    _allowed(who)

    async def ask(uow: UnitOfWork) -> None:
        record = await uow.settlement.day(day)
        if record is None or (record.review is None and record.approved_by is None):
            raise NotPrepared(f"{day} is not prepared: prepare it, then a second user approves")
        if record.settled or record.job is not None:
            return
        if who.role is not ActorRole.ADMINISTRATOR and record.prepared_by == who.name:
            raise FourEyes(f"{who.name} prepared {day}: another finance user must approve it")
        if record.review is not None and record.approved_by is None:
            # taps reached the day since it was reviewed: refused at once (the runner checks
            # every other figure before the first charge)
            taps = await uow.settlement_day.tap_count(*day_window(day))
            if taps != record.review["taps"]:
                raise ReviewOutdated(
                    f"{day} has {taps} taps now, {record.review['taps']} when it was reviewed: "
                    "prepare it again, then approve"
                )
        if await uow.settlement.request_job(day, Job.APPROVE, who=who.name, at=uow.clock()):
            await audit.record(
                uow, who, AuditAction.SETTLEMENT_APPROVED, _target(day),
                before={"prepared_by": record.prepared_by},
                after=None if record.review is None else {
                    "charges": record.review["charges"]["count"],
                    "charges_total": record.review["charges"]["total"],
                    "review": record.review.get("fingerprint"),
                },
            )  # fmt: skip

    await run_in_uow(uows, ask)
    return await run_of(uows, day)
