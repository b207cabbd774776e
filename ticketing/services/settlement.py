"""Use case: settle one service day for finance (issue 9; the rules in docs/SETTLEMENT.md).

`settle` runs the stages (`ticketing.settlement.states.Stage`) in order, each committed with a
checkpoint on the day's settlement record, so a run that stops between stages is completed by
the next with nothing done twice:

1. close: refuse a day outside the settlement calendar (`ticketing.settlement.calendar`:
   before the first activity, or before its cut-off, 04:00 Asia/Ho_Chi_Minh the next
   morning); record who,
   when, and the tap and ledger watermarks;
2. price: price the day's account-days whose taps changed since their latest price (nothing
   priced twice: an unchanged day is left as it is), pin the version each account-day settles
   at, and turn changes to earlier settled days (late taps) into adjustments of this run;
3. charge: one charge per account of exactly its fares of the day (the part its receivable
   pays) through the payments service, then one per later-tapped settled account-day as that
   day's adjustment (`services.charging`); already charged: skipped; declines go to debt
   recovery; then duplicates at the gateway are voided or refunded
   (`settlement_reconcile.void_duplicates`);
4. reconcile: the gateway's listings of the period since the previous run against the
   ledger's payment records, and VNPay's answers on its top-ups, rolled into suspense
   (`settlement_reconcile`);
5. apportion: the day's own exceptions (unpriced legs, uncollected days) recorded;
6. report: the inputs gathered (`settlement_inputs`), the pure computation
   (`ticketing.settlement.compute.settle_day`), the reports written, the figures, summary and
   digest stored. A settled day is never computed again: a rerun returns its stored summary.

A run that fails records its error on the day (state `failed`; the stages done stay done) and
raises; the next run resumes from the last checkpoint. Two runs of one day at once: the second
refuses (`settlement_lock`).

Two ways in. `settle` runs every stage at once (`faregate settle`, an administrator).
`run_job` runs the work finance asked for and `ticketing.services.settlement_runs` queued on the
day's record, off the request: `Job.PREPARE` (close, price, then the figures for review:
`review_day`) or `Job.APPROVE` (charge, reconcile, apportion, report). Both report progress,
stage by stage, counts done of total, through a `ProgressHook`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from faregate_data.chart_of_accounts import load_chart
from faregate_data.operators import OperatorRegistry, load_operators
from gateways.protocol import Gateway
from gateways.vnpay import VNPayConfig
from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts as ledger_accounts
from ticketing.money import Money
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import parking_charge_key
from ticketing.services import audit
from ticketing.services.charging import (
    DEFAULT_CONCURRENCY,
    charge_adjustments,
    charge_owed,
    charge_parking,
    charges_to_make,
    refund_lowered_days,
)
from ticketing.services.settlement_inputs import DEFAULT_CURRENCY, day_shared_codes, gather_inputs
from ticketing.services.settlement_lock import settlement_lock
from ticketing.services.settlement_reconcile import (
    reconcile_period,
    reconcile_stage,
    reconciled,
    void_duplicates,
)
from ticketing.services.taps import price_account_days
from ticketing.settlement.calendar import check_settleable, day_window
from ticketing.settlement.compute import settle_day
from ticketing.settlement.controls import SettledDay
from ticketing.settlement.errors import ReviewOutdated
from ticketing.settlement.journal import RecordedPosting, journal_lines
from ticketing.settlement.review import DayReview
from ticketing.settlement.states import DayState, ExceptionKind, Job, Stage
from ticketing.settlement.summary import SettlementSummary
from ticketing.settlement.writers import ReportFiles, write_reports
from ticketing.stores.settlement import StoredException
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

DEFAULT_GATEWAY = "stripe"  # the clearing account's gateway when no payments service is given

StageHook = Callable[[Stage], None]
# A stage's progress: the stage running, and its counts done of total (accounts priced,
# charges made). Awaited, so a runner can store it where the API reads it.
ProgressHook = Callable[[Stage, int, int], Awaitable[None]]


async def _no_progress(stage: Stage, done: int, total: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class SettlementOutcome:
    """What a run answers: its summary, and whether this run settled the day."""

    summary: SettlementSummary
    already_settled: bool
    dry_run: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class _Run:
    """What every stage of one run works with."""

    uows: UnitOfWorkFactory
    feed: FareFeed
    day: date
    gateway: Gateway | None
    payments: PaymentsService | None
    vnpay: VNPayConfig | None = None  # VNPay top-ups are reconciled through its querydr
    progress: ProgressHook = _no_progress
    concurrency: int = DEFAULT_CONCURRENCY


def default_report_dir(data_dir: Path, day: date) -> Path:
    """Where a day's reports go unless told otherwise: DATA_DIR/settlement/DAY (`faregate
    settle`, the finance API and page, the demo)."""
    return data_dir / "settlement" / day.isoformat()


async def settle(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    day: date,
    *,
    who: Actor,
    report_dir: Path,
    gateway: Gateway | None = None,
    payments: PaymentsService | None = None,
    dry_run: bool = False,
    after_stage: StageHook | None = None,
    registry: OperatorRegistry | None = None,
    progress: ProgressHook | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    vnpay: VNPayConfig | None = None,
) -> SettlementOutcome:
    """Settle `day` (see the module docstring). Without a gateway the charge and reconcile
    stages are skipped (nothing to charge through, nothing to list). Reports name operators,
    and the payouts file pays them, by `registry`, by default the shipped operator registry.
    Each run that starts or resumes the day is in the audit log as `who`'s (a dry run changes
    nothing and is not); `who` is recorded as the day's preparer (unless someone prepared it)
    and approver: an administrator at the command line stands for both."""
    now = uows.clock()
    operators = load_operators() if registry is None else registry
    async with uows() as uow:
        check_settleable(day, await uow.settlement_day.first_activity(), now)
        record = await uow.settlement.day(day)
    if record is not None and record.settled:
        assert record.figures is not None
        summary = SettlementSummary.from_json(record.figures["summary"])
        return SettlementOutcome(summary, already_settled=True, dry_run=dry_run)
    run = _Run(
        uows=uows,
        feed=feed,
        day=day,
        gateway=gateway,
        payments=payments,
        vnpay=vnpay,
        progress=progress or _no_progress,
        concurrency=concurrency,
    )
    if dry_run:
        found = await reconcile_period(uows, day, gateway, uows.clock(), vnpay)
        settled = settle_day(await gather_inputs(uows, day, found, dry_run=True, feed=feed))
        files = await _write(uows, settled, report_dir, operators)
        return SettlementOutcome(settled.summary(str(files.html)), False, True)

    async with settlement_lock(uows.engine, day):
        done = record.stage if record is not None else None
        stage = Stage.CLOSED
        try:
            await run_in_uow(uows, lambda uow: _start(uow, day, who, done))
            if done is None and after_stage is not None:
                after_stage(Stage.CLOSED)
            for stage, step in _STEPS:
                if done is None or not done.includes(stage):
                    await step(run)
                    if after_stage is not None:
                        after_stage(stage)
            stage = Stage.REPORTED
            summary = await _report(run, report_dir, operators)
        except Exception as error:
            await _record_failure(uows, day, stage, error)
            raise
        if after_stage is not None:
            after_stage(Stage.REPORTED)
        return SettlementOutcome(summary, already_settled=False, dry_run=False)


async def _start(uow: UnitOfWork, day: date, who: Actor, done: Stage | None) -> None:
    """Close the day (or resume a failed run of it), recorded in the audit log as `who`'s."""
    if done is None:
        await uow.settlement.close(day, who=who.name, at=uow.clock())
    else:
        await uow.settlement.resume(day)
    await uow.settlement.run_by_one(day, who=who.name, at=uow.clock())
    await audit.record(
        uow, who, AuditAction.SETTLEMENT_STARTED,
        Target(TargetKind.SERVICE_DAY, day.isoformat()),
        after=None if done is None else {"resumed_after": str(done)},
    )  # fmt: skip


async def _record_failure(
    uows: UnitOfWorkFactory, day: date, stage: Stage, error: Exception
) -> None:
    """The day's record says the run failed and why; what it did before stays done."""
    message = f"{stage} stage failed: {error}" if str(error) else f"{stage} stage failed"

    async def fail(uow: UnitOfWork) -> None:
        if await uow.settlement.day(day) is not None:
            await uow.settlement.fail(day, message[:2000])

    try:
        await run_in_uow(uows, fail)
    except Exception:  # the database itself may be what failed: the error raised says it
        return


async def _checkpoint(uows: UnitOfWorkFactory, day: date, stage: Stage) -> None:
    async def mark(uow: UnitOfWork) -> None:
        await uow.settlement.set_stage(day, stage)

    await run_in_uow(uows, mark)


async def _price(run: _Run) -> None:
    """Price what is pending for the day and for earlier settled days (late taps), pin the
    versions the day settles at, and record the adjustments of earlier days."""
    uows, day = run.uows, run.day
    keys: set[tuple[str, date]] = set()
    async with uows() as uow:
        start, end = day_window(day)
        keys.update(
            (account, day)
            for account in await uow.settlement_day.pending_account_days(day, start, end)
        )
        for earlier in await uow.settlement.days():
            if earlier.day < day and earlier.state is DayState.SETTLED:
                late = await uow.settlement_day.late_accounts(
                    earlier.day, *day_window(earlier.day), earlier.tap_watermark
                )
                keys.update((account, earlier.day) for account in late)
        # Taps of an account the backend does not hold cannot be priced (the journal now
        # quarantines them at upload, migration 0018 moved the older ones): never let such a
        # day fail this run and every later one.
        known = await uow.riders.existing(account for account, _ in keys)
        keys = {key for key in keys if key[0] in known}
    await run.progress(Stage.PRICED, 0, len(keys))
    if keys:
        await price_account_days(uows, run.feed, keys)
    await run.progress(Stage.PRICED, len(keys), len(keys))

    async def pin(uow: UnitOfWork) -> None:
        await uow.settlement.record_settled_versions(day)
        adjustments = await uow.settlement.pending_adjustments(day)
        await uow.settlement.record_adjustments(day, adjustments)
        await uow.settlement.set_stage(day, Stage.PRICED)

    await run_in_uow(uows, pin)


async def _charge(run: _Run) -> None:
    """The days later taps lowered refunded (`refund_lowered_days`), then each account's fares
    of the day, charged on their own (`charges_to_make`, concurrently), then its parking of
    the day on a line of its own, then the later taps of days already settled, each charged as
    its own day's adjustment."""
    if run.payments is not None:
        async with run.uows() as uow:
            adjustments = await uow.settlement.adjustments_of(run.day)
        # the credit of days later taps lowered goes back to the cards first: it is not the
        # next charge's to absorb (each charge is exactly its own day's fares)
        await refund_lowered_days(run.uows, run.payments, adjustments)
        owed = await charges_to_make(run.uows, run.day)

        async def progress(done: int, total: int) -> None:
            await run.progress(Stage.CHARGED, done, total)

        await progress(0, len(owed))
        await charge_owed(
            run.payments,
            run.day,
            owed,
            concurrency=run.concurrency,
            progress=progress,
        )
        await charge_parking(run.uows, run.payments, run.day)
        await charge_adjustments(run.uows, run.payments, adjustments)
        await void_duplicates(run.uows, run.day, run.payments)
    await _checkpoint(run.uows, run.day, Stage.CHARGED)


async def _reconcile(run: _Run) -> None:
    clearing = (
        run.payments.clearing_account
        if run.payments is not None
        else ledger_accounts.gateway_clearing(DEFAULT_GATEWAY)
    )
    await reconcile_stage(run.uows, run.day, run.gateway, clearing, run.vnpay)


async def _apportion(run: _Run) -> None:
    """The day's settlement exceptions (unpriced legs, uncollected days and parking, shared
    codes) stored
    with the checkpoint: kept in the exceptions table beside the suspense items, never dropped;
    and the uncollected days and parking of earlier runs collected since resolved (this run
    apportions them)."""
    day = run.day

    async def record(uow: UnitOfWork) -> None:
        items = [
            _found(
                ExceptionKind.UNPRICED_LEG,
                day,
                f"{leg.account_id}:{day}:{leg.leg_index}",
                {
                    "account": leg.account_id,
                    "leg_index": leg.leg_index,
                    "route": leg.route_id,
                    "operator": leg.operator_id,
                },
            )
            for leg in await uow.settlement_day.unpriced_legs(day)
        ]
        items.extend(
            _found(
                ExceptionKind.UNCOLLECTED,
                day,
                f"{u.account_id}:{day}",
                {"account": u.account_id, "day_total": u.total},
                Money(u.total, u.currency),
            )
            for u in await uow.settlement_day.uncollected_days(day)
        )
        start, end = day_window(day)
        items.extend(
            _found(
                ExceptionKind.UNCOLLECTED_PARKING,
                day,
                f"{u.account_id}:{day}:{u.operator_id}",
                {"account": u.account_id, "operator": u.operator_id, "parking": u.amount},
                Money(u.amount, u.currency),
            )
            for u in await uow.settlement_day.parking_uncollected(day, start, end)
        )
        items.extend(
            _found(
                ExceptionKind.SHARED_CODE,
                day,
                shared.key,
                {
                    "account": shared.account_id,
                    "credential": str(shared.credential_id),
                    "step": shared.step,
                    "station": shared.station_id,
                    "gates": list(shared.gates),
                    "taps": [f"{device}#{seq}" for device, seq in shared.taps],
                    "first_at": shared.first_at.isoformat(),
                },
            )
            for shared in await day_shared_codes(uow, day, run.feed)
        )
        await uow.settlement.add_exceptions(items)
        for kind in (ExceptionKind.UNCOLLECTED, ExceptionKind.UNCOLLECTED_PARKING):
            recovered = await uow.settlement.collected_since(kind, day)
            await uow.settlement.resolve_exceptions((e.key for e in recovered), day)
        await uow.settlement.set_stage(day, Stage.APPORTIONED)

    await run_in_uow(run.uows, record)


def _found(
    kind: ExceptionKind,
    day: date,
    key: str,
    detail: dict[str, Any],
    amount: Money | None = None,
) -> StoredException:
    """An exception the run of `day` found (recorded and first seen that day, nothing moved
    into suspense), keyed `{kind}:{key}`; `amount`: the money it holds, if any."""
    held = Money(0, DEFAULT_CURRENCY) if amount is None else amount
    return StoredException(
        key=f"{kind}:{key}",
        kind=kind,
        currency=held.currency,
        amount=held.amount,
        suspense=0,
        record_day=day,
        first_seen=day,
        detail=detail,
    )


_STEPS: tuple[tuple[Stage, Callable[[_Run], Awaitable[None]]], ...] = (
    (Stage.PRICED, _price),
    (Stage.CHARGED, _charge),
    (Stage.RECONCILED, _reconcile),
    (Stage.APPORTIONED, _apportion),
)


async def run_job(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    day: date,
    *,
    report_dir: Path,
    gateway: Gateway | None = None,
    payments: PaymentsService | None = None,
    registry: OperatorRegistry | None = None,
    progress: ProgressHook | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    vnpay: VNPayConfig | None = None,
) -> Job | None:
    """Run the work waiting on `day`'s record (`Job`), if any, under the day's lock
    (`SettlementInProgress` at once while another run holds it): its stages not done yet, up
    to the job's last, then the figures for review (prepare) or the report (approve). A stage
    that fails records its error on the day and clears the job (a person retries it); a
    process killed mid-job leaves it waiting for the next runner."""
    async with settlement_lock(uows.engine, day):
        async with uows() as uow:
            record = await uow.settlement.day(day)
        if record is None or record.job is None:
            return None
        job = record.job
        run = _Run(
            uows=uows,
            feed=feed,
            day=day,
            gateway=gateway,
            payments=payments,
            vnpay=vnpay,
            progress=progress or _no_progress,
            concurrency=concurrency,
        )
        stage = Stage.CLOSED
        if job is Job.APPROVE and record.review is not None:
            await _check_review(run, record.review)
        try:
            for stage, step in _STEPS:
                if stage.order > job.last_stage.order:
                    break
                if not record.stage.includes(stage):
                    await step(run)
            if job is Job.PREPARE:
                stage = Stage.PRICED
                review = await review_day(run)
                await run_in_uow(uows, lambda uow: _reviewed(uow, day, review))
            else:
                stage = Stage.REPORTED
                operators = load_operators() if registry is None else registry
                await _report(run, report_dir, operators)
        except Exception as error:
            await _record_failure(uows, day, stage, error)
            raise
        return job


async def _check_review(run: _Run, reviewed: Mapping[str, Any]) -> None:
    """Before an approved day's first charge: the day must still compute to the review that
    was approved (same charges, statements, counts: its fingerprint), else the approval is
    withdrawn, the day failed with the reason, and `ReviewOutdated` raised (prepare again,
    then approve). Once charging has begun (a retry after a failure part-way) the charges
    asked are the approved ones resumed, and the review is not computed again."""
    async with run.uows() as uow:
        asked = await uow.settlement_day.day_charges(run.day)
        parked = await uow.settlement_day.day_charges(run.day, key=parking_charge_key)
    if asked or parked:
        return
    now = await review_day(run)
    if now.fingerprint == reviewed.get("fingerprint"):
        return
    was = DayReview.from_json(reviewed)
    error = ReviewOutdated(
        f"{run.day} changed since it was reviewed (then {was.taps} taps, {was.charges} charges "
        f"totalling {was.charges_total}; now {now.taps} taps, {now.charges} charges totalling "
        f"{now.charges_total}): nothing was charged; prepare it again, then approve"
    )

    async def refuse(uow: UnitOfWork) -> None:
        await uow.settlement.refuse_approval(run.day, str(error))

    await run_in_uow(run.uows, refuse)
    raise error


async def _reviewed(uow: UnitOfWork, day: date, review: DayReview) -> None:
    await uow.settlement.store_review(day, review.as_json())
    await uow.settlement.job_done(day)


async def review_day(run: _Run) -> DayReview:
    """What approving `run.day` would do, computed once it is priced: the card charges it would
    make (how many, how much, the largest) and the statements as they stand before them (the
    computation of a dry run, with no gateway listed)."""
    owed = await charges_to_make(run.uows, run.day)
    found = await reconcile_period(run.uows, run.day, None, run.uows.clock())
    settled = settle_day(await gather_inputs(run.uows, run.day, found, dry_run=True))
    return DayReview.of(settled, owed, computed_at=run.uows.clock())


async def _report(run: _Run, report_dir: Path, registry: OperatorRegistry) -> SettlementSummary:
    """Compute the day, write its reports, and store its figures, summary and digest."""
    found = await reconciled(run.uows, run.day)
    settled = settle_day(
        await gather_inputs(run.uows, run.day, found, dry_run=False, feed=run.feed)
    )
    files = await _write(run.uows, settled, report_dir, registry)
    summary = settled.summary(str(files.html))
    figures = {**settled.figures(), "summary": summary.as_json()}

    async def finish(uow: UnitOfWork) -> None:
        await uow.settlement.finish(run.day, digest=settled.digest(), figures=figures)

    await run_in_uow(run.uows, finish)
    return summary


async def _write(
    uows: UnitOfWorkFactory, settled: SettledDay, report_dir: Path, registry: OperatorRegistry
) -> ReportFiles:
    """The day's reports, with its general-ledger journal: the postings recorded in its
    window."""
    async with uows() as uow:
        recorded = await uow.ledger.postings_recorded(*day_window(settled.day))
    journal = journal_lines(
        settled.day,
        (RecordedPosting(posting=p, recorded_at=at) for p, at in recorded),
        load_chart(),
    )
    return write_reports(
        settled, report_dir, registry=registry, journal=journal, written_at=uows.clock()
    )
