"""Settlement's own records: each settled day's row (its state, last stage done, watermarks,
the reconcile stage's figures, a failed run's error, the figures and digest), the account-day
versions a day settled, the adjustments of later versions, and the exceptions a run found.

The day's activity that a run reads (taps, priced legs, parking fees, passes, all aggregated
in SQL) is `ticketing.stores.settlement_day`; the ledger's side of reconciliation is
`ticketing.stores.reconciliation`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import chunks, insert_or_skip
from ticketing.db.models import EntryRow, PricedDayRow, TapRow, table_of
from ticketing.db.payments_models import PaymentAttemptRow
from ticketing.db.settlement_models import (
    SettledAccountDayRow,
    SettlementAdjustmentRow,
    SettlementDayRow,
    SettlementExceptionRow,
)
from ticketing.payments.model import (
    AttemptStatus,
    PaymentPurpose,
    daily_charge_key,
    parking_charge_key,
)
from ticketing.settlement.compute import Adjustment
from ticketing.settlement.states import DayState, ExceptionKind, Job, Stage
from ticketing.settlement.summary import ReconciliationFigures

TAPS = table_of(TapRow)
ENTRIES = table_of(EntryRow)
PRICED_DAYS = table_of(PricedDayRow)
ATTEMPTS = table_of(PaymentAttemptRow)
DAYS = table_of(SettlementDayRow)
SETTLED = table_of(SettledAccountDayRow)
EXCEPTIONS = table_of(SettlementExceptionRow)
ADJUSTMENTS = table_of(SettlementAdjustmentRow)
COLLECTED_STATUSES = (AttemptStatus.SUCCEEDED.value, AttemptStatus.RECOVERED.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class DayRecord:
    day: date
    state: DayState
    stage: Stage  # the last stage done
    closed_by: str
    closed_at: datetime
    tap_watermark: int
    posting_watermark: int
    reconciled_until: datetime | None
    reconciliation: ReconciliationFigures | None  # None until the reconcile stage is done
    error: str | None  # why the last run failed (None: it did not, or it was retried)
    failed_at: datetime | None
    digest: str | None
    figures: dict[str, Any] | None
    prepared_by: str | None = None
    prepared_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    review: dict[str, Any] | None = None  # the figures shown for review, once prepared
    job: Job | None = None  # work waiting for a runner
    job_stage: Stage | None = None  # the stage running now
    progress_done: int = 0
    progress_total: int = 0

    @property
    def settled(self) -> bool:
        return self.digest is not None and self.figures is not None

    def done(self, stage: Stage) -> bool:
        return self.stage.includes(stage)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredException:
    key: str
    kind: ExceptionKind
    currency: str
    amount: int
    suspense: int
    record_day: date
    first_seen: date
    detail: dict[str, Any]


def _day_record(row: Any) -> DayRecord:
    return DayRecord(
        day=row.day,
        state=DayState(row.state),
        stage=Stage(row.stage),
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        tap_watermark=row.tap_watermark,
        posting_watermark=row.posting_watermark,
        reconciled_until=row.reconciled_until,
        reconciliation=None
        if row.reconciliation is None
        else ReconciliationFigures.from_json(row.reconciliation),
        error=row.error,
        failed_at=row.failed_at,
        digest=row.digest,
        figures=row.figures,
        prepared_by=row.prepared_by,
        prepared_at=row.prepared_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        review=row.review,
        job=None if row.job is None else Job(row.job),
        job_stage=None if row.job_stage is None else Stage(row.job_stage),
        progress_done=row.progress_done,
        progress_total=row.progress_total,
    )


class SettlementRecords:
    """Settlement's own tables (see the module docstring)."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    # -- settled days ---------------------------------------------------------------------

    async def day(self, day: date) -> DayRecord | None:
        row = (await self._session.execute(select(DAYS).where(DAYS.c.day == day))).first()
        return None if row is None else _day_record(row)

    async def days(self) -> list[DayRecord]:
        rows = await self._session.execute(select(DAYS).order_by(DAYS.c.day))
        return [_day_record(row) for row in rows]

    async def close(self, day: date, *, who: str, at: datetime) -> DayRecord:
        """Record the close of `day` (who, when, watermarks); the existing record if closed."""
        known = await self.day(day)
        if known is not None:
            return known
        tap_mark = await self._session.scalar(select(func.coalesce(func.max(TAPS.c.id), 0)))
        posting_mark = await self._session.scalar(select(func.coalesce(func.max(ENTRIES.c.id), 0)))
        inserted = await self._session.execute(
            insert(DAYS)
            .values(
                day=day,
                state=DayState.CLOSED.value,
                stage=Stage.CLOSED.value,
                closed_by=who,
                closed_at=at,
                tap_watermark=int(tap_mark or 0),
                posting_watermark=int(posting_mark or 0),
                updated_at=at,
            )
            .returning(*DAYS.c)
        )
        return _day_record(inserted.one())

    async def set_stage(
        self,
        day: date,
        stage: Stage,
        *,
        reconciled_until: datetime | None = None,
        reconciliation: ReconciliationFigures | None = None,
    ) -> None:
        """The checkpoint of `stage` done (with what the reconcile stage found)."""
        values: dict[str, Any] = {"stage": stage.value, "updated_at": self._clock()}
        if reconciled_until is not None:
            values["reconciled_until"] = reconciled_until
        if reconciliation is not None:
            values["reconciliation"] = reconciliation.as_json()
        await self._session.execute(update(DAYS).where(DAYS.c.day == day).values(**values))

    async def fail(self, day: date, error: str) -> None:
        """A run of `day` stopped on `error`: its stages done stay done; a retry resumes."""
        now = self._clock()
        await self._session.execute(
            update(DAYS)
            .where(DAYS.c.day == day, DAYS.c.digest.is_(None))
            .values(
                state=DayState.FAILED.value,
                error=error,
                failed_at=now,
                updated_at=now,
                job=None,  # retried by a person's new request, not by the next runner
                job_stage=None,
            )
        )

    async def resume(self, day: date) -> None:
        """A new run of a failed day: closed again, the error cleared."""
        await self._session.execute(
            update(DAYS)
            .where(DAYS.c.day == day, DAYS.c.state == DayState.FAILED.value)
            .values(
                state=DayState.CLOSED.value, error=None, failed_at=None, updated_at=self._clock()
            )
        )

    async def finish(self, day: date, *, digest: str, figures: dict[str, Any]) -> None:
        now = self._clock()
        await self._session.execute(
            update(DAYS)
            .where(DAYS.c.day == day, DAYS.c.digest.is_(None))
            .values(
                state=DayState.SETTLED.value,
                stage=Stage.REPORTED.value,
                digest=digest,
                figures=figures,
                error=None,
                failed_at=None,
                settled_at=now,
                updated_at=now,
                job=None,
                job_stage=None,
            )
        )

    # -- the run off the request (four eyes) -------------------------------------------------

    async def request_job(self, day: date, job: Job, *, who: str, at: datetime) -> bool:
        """`who` asked for `job` on `day` at `at`: prepare (again: the review is recomputed)
        or approve; a failed day is closed again, its error cleared (its stages done stay).
        False, and nothing changed, when other work is already waiting on the day."""
        values: dict[str, Any] = {
            "job": job.value,
            "job_stage": None,
            "progress_done": 0,
            "progress_total": 0,
            "updated_at": at,
        }
        if job is Job.PREPARE:
            values.update(prepared_by=who, prepared_at=at, review=None)
        else:
            values.update(approved_by=who, approved_at=at)
        changed = await self._session.execute(
            update(DAYS).where(DAYS.c.day == day, DAYS.c.job.is_(None)).values(**values)
        )
        if not changed.rowcount:  # type: ignore[attr-defined]
            return False
        await self.resume(day)
        return True

    async def run_by_one(self, day: date, *, who: str, at: datetime) -> None:
        """An administrator's run of every stage (`faregate settle`): `who` prepared the day
        (unless someone did) and approved it; a job waiting is this run's now."""
        await self._session.execute(
            update(DAYS)
            .where(DAYS.c.day == day)
            .values(
                prepared_by=func.coalesce(DAYS.c.prepared_by, who),
                prepared_at=func.coalesce(DAYS.c.prepared_at, at),
                approved_by=who,
                approved_at=at,
                job=None,
                job_stage=None,
            )
        )

    async def progress(self, day: date, stage: Stage, done: int, total: int) -> None:
        """The job's stage running now and its counts done of total."""
        await self._session.execute(
            update(DAYS)
            .where(DAYS.c.day == day)
            .values(job_stage=stage.value, progress_done=done, progress_total=total)
        )

    async def refuse_approval(self, day: date, error: str) -> None:
        """The approval of `day` is withdrawn with the review it approved (the day no longer
        computes to it): failed on `error`, to be prepared again; its stages done stay."""
        await self.fail(day, error)
        await self._session.execute(
            update(DAYS)
            .where(DAYS.c.day == day, DAYS.c.digest.is_(None))
            .values(approved_by=None, approved_at=None, review=None)
        )

    async def store_review(self, day: date, review: dict[str, Any]) -> None:
        await self._session.execute(update(DAYS).where(DAYS.c.day == day).values(review=review))

    async def job_done(self, day: date) -> None:
        """The job of `day` ran to its end: nothing is waiting."""
        await self._session.execute(
            update(DAYS)
            .where(DAYS.c.day == day)
            .values(job=None, job_stage=None, updated_at=self._clock())
        )

    async def pending_jobs(self) -> list[tuple[date, Job]]:
        """Days with work waiting for a runner, oldest first."""
        rows = await self._session.execute(
            select(DAYS.c.day, DAYS.c.job).where(DAYS.c.job.is_not(None)).order_by(DAYS.c.day)
        )
        return [(day, Job(job)) for day, job in rows]

    async def previous_reconciled_until(self, day: date) -> datetime | None:
        until: datetime | None = await self._session.scalar(
            select(func.max(DAYS.c.reconciled_until)).where(DAYS.c.day != day)
        )
        return until

    async def previous_gateway_until(self, day: date) -> datetime | None:
        """Where the previous runs' gateway listings ended, by the gateway's clock."""
        rows = await self._session.execute(
            select(DAYS.c.reconciliation).where(
                DAYS.c.day != day, DAYS.c.reconciliation.is_not(None)
            )
        )
        ends = [
            until
            for (figures,) in rows
            if (until := ReconciliationFigures.from_json(figures).gateway_until) is not None
        ]
        return max(ends, default=None)

    # -- the versions a day settled, and adjustments ----------------------------------------

    def _latest(self, day: date) -> Subquery:
        return (
            select(
                PRICED_DAYS.c.account_id,
                func.max(PRICED_DAYS.c.version).label("version"),
            )
            .where(PRICED_DAYS.c.service_day == day)
            .group_by(PRICED_DAYS.c.account_id)
            .subquery("latest")
        )

    async def record_settled_versions(self, day: date) -> int:
        """Pin the latest version of every account-day of `day` (once: a rerun adds nothing)."""
        latest = self._latest(day)
        statement = insert_or_skip(self._session, SETTLED).from_select(
            ["service_day", "account_id", "version", "settled_in"],
            select(
                literal(day, SETTLED.c.service_day.type),
                latest.c.account_id,
                latest.c.version,
                literal(day, SETTLED.c.settled_in.type),
            ).where(latest.c.version > 0),  # SQLite: ON CONFLICT after SELECT needs a WHERE
        )
        result = await self._session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    async def pending_adjustments(self, before: date) -> list[Adjustment]:
        """Account-days of days settled before `before` whose latest version is newer than
        the version settled (0 for an account-day that had no taps when its day settled)."""
        settled_days = select(DAYS.c.day).where(
            DAYS.c.state == DayState.SETTLED.value, DAYS.c.day < before
        )
        latest = (
            select(
                PRICED_DAYS.c.account_id,
                PRICED_DAYS.c.service_day,
                func.max(PRICED_DAYS.c.version).label("version"),
            )
            .where(PRICED_DAYS.c.service_day.in_(settled_days))
            .group_by(PRICED_DAYS.c.account_id, PRICED_DAYS.c.service_day)
            .subquery("latest")
        )
        new = PRICED_DAYS.alias("new")
        old = PRICED_DAYS.alias("old")
        query = (
            select(
                latest.c.service_day,
                latest.c.account_id,
                func.coalesce(SETTLED.c.version, 0),
                latest.c.version,
                new.c.total_amount - func.coalesce(old.c.total_amount, 0),
                new.c.currency,
            )
            .join(
                new,
                and_(
                    new.c.account_id == latest.c.account_id,
                    new.c.service_day == latest.c.service_day,
                    new.c.version == latest.c.version,
                ),
            )
            .outerjoin(
                SETTLED,
                and_(
                    SETTLED.c.account_id == latest.c.account_id,
                    SETTLED.c.service_day == latest.c.service_day,
                ),
            )
            .outerjoin(
                old,
                and_(
                    old.c.account_id == SETTLED.c.account_id,
                    old.c.service_day == SETTLED.c.service_day,
                    old.c.version == SETTLED.c.version,
                ),
            )
            .where(or_(SETTLED.c.version.is_(None), SETTLED.c.version < latest.c.version))
            .order_by(latest.c.service_day, latest.c.account_id)
        )
        rows = await self._session.execute(query)
        return [_adjustment(row) for row in rows]

    async def record_adjustments(self, settled_in: date, items: Sequence[Adjustment]) -> None:
        for item in items:
            await self._session.execute(
                insert_or_skip(self._session, ADJUSTMENTS).values(
                    original_day=item.original_day,
                    settled_in=settled_in,
                    account_id=item.account_id,
                    previous_version=item.previous_version,
                    version=item.version,
                    amount=item.amount,
                    currency=item.currency,
                )
            )
            pinned = await self._session.execute(
                update(SETTLED)
                .where(
                    SETTLED.c.service_day == item.original_day,
                    SETTLED.c.account_id == item.account_id,
                )
                .values(version=item.version, settled_in=settled_in)
            )
            if not getattr(pinned, "rowcount", 0):
                await self._session.execute(
                    insert(SETTLED).values(
                        service_day=item.original_day,
                        account_id=item.account_id,
                        version=item.version,
                        settled_in=settled_in,
                    )
                )

    async def adjustments_of(self, settled_in: date) -> list[Adjustment]:
        rows = await self._session.execute(
            select(
                ADJUSTMENTS.c.original_day,
                ADJUSTMENTS.c.account_id,
                ADJUSTMENTS.c.previous_version,
                ADJUSTMENTS.c.version,
                ADJUSTMENTS.c.amount,
                ADJUSTMENTS.c.currency,
            )
            .where(ADJUSTMENTS.c.settled_in == settled_in)
            .order_by(ADJUSTMENTS.c.original_day, ADJUSTMENTS.c.account_id)
        )
        return [_adjustment(row) for row in rows]

    async def waiting_adjustments(self) -> dict[date, int]:
        """Per settled day: account-days changed since it settled, not yet adjusted."""
        waiting: dict[date, int] = {}
        for item in await self.pending_adjustments(date.max):
            waiting[item.original_day] = waiting.get(item.original_day, 0) + 1
        return waiting

    # -- exceptions -------------------------------------------------------------------------

    async def open_exceptions(self, *, before: date | None = None) -> list[StoredException]:
        query = select(EXCEPTIONS).where(EXCEPTIONS.c.resolved_on.is_(None))
        if before is not None:
            query = query.where(EXCEPTIONS.c.first_seen < before)
        rows = await self._session.execute(query.order_by(EXCEPTIONS.c.key))
        return [_stored_exception(r) for r in rows]

    async def add_exceptions(self, items: Iterable[StoredException]) -> None:
        for item in items:
            await self._session.execute(
                insert_or_skip(self._session, EXCEPTIONS).values(
                    key=item.key,
                    kind=item.kind.value,
                    currency=item.currency,
                    amount=item.amount,
                    suspense=item.suspense,
                    record_day=item.record_day,
                    first_seen=item.first_seen,
                    detail=item.detail,
                )
            )

    async def update_exceptions(self, items: Iterable[StoredException]) -> None:
        """New figures of open exceptions reported again (their first day kept)."""
        for item in items:
            await self._session.execute(
                update(EXCEPTIONS)
                .where(EXCEPTIONS.c.key == item.key, EXCEPTIONS.c.resolved_on.is_(None))
                .values(amount=item.amount, suspense=item.suspense, detail=item.detail)
            )

    async def resolve_exceptions(self, keys: Iterable[str], on: date) -> None:
        wanted = sorted(set(keys))
        if wanted:
            await self._session.execute(
                update(EXCEPTIONS)
                .where(EXCEPTIONS.c.key.in_(wanted), EXCEPTIONS.c.resolved_on.is_(None))
                .values(resolved_on=on)
            )

    async def collected_since(self, kind: ExceptionKind, before: date) -> list[StoredException]:
        """Open exceptions of `kind` (uncollected fares or parking of a day) of days before
        `before` whose own charge has since been collected (paid, or recovered by a retry or a
        top-up): the day's fares line for `UNCOLLECTED`, its parking line for
        `UNCOLLECTED_PARKING` (the other lines of the day say nothing of it)."""
        charge_key = (
            parking_charge_key if kind is ExceptionKind.UNCOLLECTED_PARKING else (daily_charge_key)
        )
        rows = await self._session.execute(
            select(EXCEPTIONS)
            .where(
                EXCEPTIONS.c.kind == kind.value,
                EXCEPTIONS.c.resolved_on.is_(None),
                EXCEPTIONS.c.record_day < before,
            )
            .order_by(EXCEPTIONS.c.key)
        )
        found = []
        for r in rows:
            collected = await self._session.scalar(
                select(
                    exists().where(
                        ATTEMPTS.c.purpose == PaymentPurpose.DAILY_CHARGE.value,
                        ATTEMPTS.c.charge_key == charge_key(r.detail["account"], r.record_day),
                        ATTEMPTS.c.status.in_(COLLECTED_STATUSES),
                    )
                )
            )
            if collected:
                found.append(_stored_exception(r))
        return found

    async def resolved_on(self, kind: ExceptionKind, day: date) -> list[StoredException]:
        """Exceptions of `kind` the run of `day` resolved."""
        rows = await self._session.execute(
            select(EXCEPTIONS)
            .where(EXCEPTIONS.c.kind == kind.value, EXCEPTIONS.c.resolved_on == day)
            .order_by(EXCEPTIONS.c.key)
        )
        return [_stored_exception(r) for r in rows]

    async def keys_reported_before(self, day: date, prefix: str) -> set[str]:
        """The keys starting with `prefix` of exceptions a run other than `day`'s reported."""
        rows = await self._session.execute(
            select(EXCEPTIONS.c.key).where(
                EXCEPTIONS.c.key.startswith(prefix, autoescape=True),
                EXCEPTIONS.c.first_seen != day,
            )
        )
        return set(rows.scalars())

    async def resolved_before(self, keys: Iterable[str], day: date) -> set[str]:
        """Which of the exception keys a run other than `day`'s reported and are resolved."""
        found: set[str] = set()
        for part in chunks(sorted(set(keys))):  # bound parameters per statement
            rows = await self._session.execute(
                select(EXCEPTIONS.c.key).where(
                    EXCEPTIONS.c.key.in_(part),
                    EXCEPTIONS.c.first_seen != day,
                    EXCEPTIONS.c.resolved_on.is_not(None),
                )
            )
            found.update(rows.scalars())
        return found

    async def exceptions_first_seen(self, day: date) -> list[StoredException]:
        rows = await self._session.execute(
            select(EXCEPTIONS).where(EXCEPTIONS.c.first_seen == day).order_by(EXCEPTIONS.c.key)
        )
        return [_stored_exception(r) for r in rows]


def _adjustment(row: Any) -> Adjustment:
    original_day, account_id, previous_version, version, amount, currency = row
    return Adjustment(
        original_day=original_day,
        account_id=account_id,
        previous_version=int(previous_version),
        version=int(version),
        amount=int(amount),
        currency=currency,
    )


def _stored_exception(row: Any) -> StoredException:
    return StoredException(
        key=row.key,
        kind=ExceptionKind(row.kind),
        currency=row.currency,
        amount=row.amount,
        suspense=row.suspense,
        record_day=row.record_day,
        first_seen=row.first_seen,
        detail=row.detail,
    )
