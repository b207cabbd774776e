"""Settlement records: settled days and their checkpoints, the account-day versions a day
counted, exceptions in suspense, adjustments; and the day's figures aggregated in SQL.

Every aggregate over taps and priced legs is one GROUP BY statement (the day of a million
taps is summed by the database, not row by row in Python); only the account-days whose
legs share a pool (caps, transfer chains) come back leg by leg for the pool rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select, Subquery

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import dialect_name, insert_or_skip
from ticketing.db.models import (
    EntryRow,
    PassRow,
    PostingRow,
    PricedDayRow,
    PricedLegRow,
    TapRow,
    table_of,
)
from ticketing.db.payments_models import (
    AttemptStatus,
    PaymentAttemptRow,
    PaymentPurpose,
    PaymentRefundRow,
    RefundRecordStatus,
)
from ticketing.db.settlement_models import (
    SettledAccountDayRow,
    SettlementAdjustmentRow,
    SettlementDayRow,
    SettlementExceptionRow,
)
from ticketing.ledger.accounts import AccountKind
from ticketing.postings import (
    RECONCILIATION_SUSPENSE,
    hold_capture_id,
    parking_fee_id,
    parking_hold_id,
    parking_permit_id,
    suspense_move_id,
)
from ticketing.service_day import DEFAULT_TIMEZONE

TAPS = table_of(TapRow)
_SERVICE_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # the report's hours, as charges_by_hour's
# How parking's postings are named (ticketing.postings): fees, holds, a hold's capture, permits.
_FEE_PREFIX = parking_fee_id("")
_HOLD_PREFIX = parking_hold_id("")
_PERMIT_PREFIX = parking_permit_id("")
_CAPTURE_SUFFIX = hold_capture_id("")
PRICED_DAYS = table_of(PricedDayRow)
LEGS = table_of(PricedLegRow)
ENTRIES = table_of(EntryRow)
OPERATOR_PREFIX = f"{AccountKind.OPERATOR.value}:"  # every operator payable's code starts so
POSTINGS = table_of(PostingRow)
ATTEMPTS = table_of(PaymentAttemptRow)
REFUNDS = table_of(PaymentRefundRow)
PASSES = table_of(PassRow)
DAYS = table_of(SettlementDayRow)
SETTLED = table_of(SettledAccountDayRow)
EXCEPTIONS = table_of(SettlementExceptionRow)
ADJUSTMENTS = table_of(SettlementAdjustmentRow)
COLLECTED_STATUSES = (AttemptStatus.SUCCEEDED.value, AttemptStatus.RECOVERED.value)


@dataclass(frozen=True, slots=True)
class DayRecord:
    day: date
    state: str
    stage: str
    closed_by: str
    closed_at: datetime
    tap_watermark: int
    posting_watermark: int
    reconciled_until: datetime | None
    digest: str | None
    figures: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class LegRow:
    account_id: str
    operator_id: str
    amount: int
    undiscounted: int
    capped: bool
    continues_previous: bool
    pass_product_id: str | None


@dataclass(frozen=True, slots=True)
class PendingAdjustment:
    original_day: date
    account_id: str
    previous_version: int
    version: int
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class StoredException:
    key: str
    kind: str
    currency: str
    amount: int
    suspense: int
    record_day: date
    first_seen: date
    detail: dict[str, Any]


def _day_record(row: Any) -> DayRecord:
    return DayRecord(
        row.day,
        row.state,
        row.stage,
        row.closed_by,
        row.closed_at,
        row.tap_watermark,
        row.posting_watermark,
        row.reconciled_until,
        row.digest,
        row.figures,
    )


class SettlementRecords:
    """Settlement's tables and the day's aggregates (see the module docstring)."""

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
                state="closed",
                stage="closed",
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
        self, day: date, stage: str, *, reconciled_until: datetime | None = None
    ) -> None:
        values: dict[str, Any] = {"stage": stage, "updated_at": self._clock()}
        if reconciled_until is not None:
            values["reconciled_until"] = reconciled_until
        await self._session.execute(update(DAYS).where(DAYS.c.day == day).values(**values))

    async def finish(self, day: date, *, digest: str, figures: dict[str, Any]) -> None:
        now = self._clock()
        await self._session.execute(
            update(DAYS)
            .where(DAYS.c.day == day, DAYS.c.digest.is_(None))
            .values(
                state="settled",
                stage="reported",
                digest=digest,
                figures=figures,
                settled_at=now,
                updated_at=now,
            )
        )

    async def previous_reconciled_until(self, day: date) -> datetime | None:
        until: datetime | None = await self._session.scalar(
            select(func.max(DAYS.c.reconciled_until)).where(DAYS.c.day != day)
        )
        return until

    # -- taps and pricing of a day ----------------------------------------------------------

    async def tap_count(self, start: datetime, end: datetime, *, up_to: int | None = None) -> int:
        query = select(func.count()).select_from(TAPS).where(TAPS.c.at >= start, TAPS.c.at < end)
        if up_to is not None:
            query = query.where(TAPS.c.id <= up_to)
        return int(await self._session.scalar(query) or 0)

    async def tap_span(self) -> tuple[datetime, datetime] | None:
        row = (await self._session.execute(select(func.min(TAPS.c.at), func.max(TAPS.c.at)))).one()
        return None if row[0] is None else (row[0], row[1])

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

    async def pending_account_days(self, day: date, start: datetime, end: datetime) -> list[str]:
        """Accounts whose taps of the day differ in number from what their latest price used
        (never priced, or taps arrived since)."""
        tapped = (
            select(TAPS.c.account_id, func.count().label("taps"))
            .where(TAPS.c.at >= start, TAPS.c.at < end)
            .group_by(TAPS.c.account_id)
            .subquery("tapped")
        )
        latest = self._latest(day)
        priced = (
            select(PRICED_DAYS.c.account_id, PRICED_DAYS.c.tap_count)
            .join(
                latest,
                and_(
                    PRICED_DAYS.c.account_id == latest.c.account_id,
                    PRICED_DAYS.c.version == latest.c.version,
                ),
            )
            .where(PRICED_DAYS.c.service_day == day)
            .subquery("priced")
        )
        rows = await self._session.execute(
            select(tapped.c.account_id)
            .outerjoin(priced, priced.c.account_id == tapped.c.account_id)
            .where(or_(priced.c.tap_count.is_(None), priced.c.tap_count != tapped.c.taps))
            .order_by(tapped.c.account_id)
        )
        return list(rows.scalars())

    async def late_accounts(
        self, day: date, start: datetime, end: datetime, mark: int
    ) -> list[str]:
        """Accounts with taps of `day` stored after the day closed (tap id above `mark`)."""
        rows = await self._session.execute(
            select(TAPS.c.account_id)
            .where(TAPS.c.at >= start, TAPS.c.at < end, TAPS.c.id > mark)
            .distinct()
            .order_by(TAPS.c.account_id)
        )
        return list(rows.scalars())

    async def priced_accounts(self, day: date) -> list[str]:
        rows = await self._session.execute(
            select(PRICED_DAYS.c.account_id)
            .where(PRICED_DAYS.c.service_day == day)
            .distinct()
            .order_by(PRICED_DAYS.c.account_id)
        )
        return list(rows.scalars())

    # -- the versions a day settled, and adjustments ----------------------------------------

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

    async def pending_adjustments(self, before: date) -> list[PendingAdjustment]:
        """Account-days of days settled before `before` whose latest version is newer than
        the version settled (0 for an account-day that had no taps when its day settled)."""
        settled_days = select(DAYS.c.day).where(DAYS.c.state == "settled", DAYS.c.day < before)
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
        return [PendingAdjustment(*row) for row in rows]

    async def record_adjustments(
        self, settled_in: date, items: Sequence[PendingAdjustment]
    ) -> None:
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

    async def adjustments_of(self, settled_in: date) -> list[PendingAdjustment]:
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
        return [PendingAdjustment(*row) for row in rows]

    async def waiting_adjustments(self) -> dict[date, int]:
        """Per settled day: account-days changed since it settled, not yet adjusted."""
        waiting: dict[date, int] = {}
        for item in await self.pending_adjustments(date.max):
            waiting[item.original_day] = waiting.get(item.original_day, 0) + 1
        return waiting

    # -- the day's legs, aggregated ---------------------------------------------------------

    def _settled_legs(self, day: date) -> Select[Any]:
        """Legs of the version of each account-day that `day` settled."""
        return select(LEGS).join(
            SETTLED,
            and_(
                SETTLED.c.service_day == day,
                LEGS.c.account_id == SETTLED.c.account_id,
                LEGS.c.service_day == SETTLED.c.service_day,
                LEGS.c.version == SETTLED.c.version,
            ),
        )

    def _uncollected(self, day: date) -> Any:
        """Account-days whose fare posting debited the receivable and whose daily charge has
        not been collected (the rest of a day's fares came out of wallets)."""
        owed = (
            select(func.coalesce(func.sum(ENTRIES.c.amount), 0))
            .select_from(PRICED_DAYS)
            .join(ENTRIES, ENTRIES.c.posting_id == PRICED_DAYS.c.posting_id)
            .where(
                PRICED_DAYS.c.account_id == SETTLED.c.account_id,
                PRICED_DAYS.c.service_day == SETTLED.c.service_day,
                PRICED_DAYS.c.version == SETTLED.c.version,
                ENTRIES.c.account_code == literal("receivable:") + SETTLED.c.account_id,
            )
            .scalar_subquery()
        )
        charged = exists().where(
            ATTEMPTS.c.purpose == PaymentPurpose.DAILY_CHARGE.value,
            ATTEMPTS.c.account_id == SETTLED.c.account_id,
            ATTEMPTS.c.service_day == day,
            ATTEMPTS.c.status.in_(COLLECTED_STATUSES),
        )
        return and_(owed > 0, ~charged)

    async def uncollected_days(self, day: date) -> list[tuple[str, int, str]]:
        """(account, day total, currency) of the settled account-days not collected."""
        rows = await self._session.execute(
            select(SETTLED.c.account_id, PRICED_DAYS.c.total_amount, PRICED_DAYS.c.currency)
            .join(
                PRICED_DAYS,
                and_(
                    PRICED_DAYS.c.account_id == SETTLED.c.account_id,
                    PRICED_DAYS.c.service_day == SETTLED.c.service_day,
                    PRICED_DAYS.c.version == SETTLED.c.version,
                ),
            )
            .where(SETTLED.c.service_day == day, self._uncollected(day))
            .order_by(SETTLED.c.account_id)
        )
        return [(a, int(t), c) for a, t, c in rows]

    async def day_totals(self, day: date) -> tuple[int, int, str | None]:
        """(account-days, fares priced, currency) of the versions the day settled."""
        row = (
            await self._session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(PRICED_DAYS.c.total_amount), 0),
                    func.min(PRICED_DAYS.c.currency),
                )
                .select_from(SETTLED)
                .join(
                    PRICED_DAYS,
                    and_(
                        PRICED_DAYS.c.account_id == SETTLED.c.account_id,
                        PRICED_DAYS.c.service_day == SETTLED.c.service_day,
                        PRICED_DAYS.c.version == SETTLED.c.version,
                    ),
                )
                .where(SETTLED.c.service_day == day)
            )
        ).one()
        return int(row[0]), int(row[1]), row[2]

    def _pooled_accounts(self, day: date) -> Any:
        """Account-days with a capped leg or a leg continuing another (their legs share pools)."""
        return (
            select(LEGS.c.account_id)
            .join(
                SETTLED,
                and_(
                    SETTLED.c.service_day == day,
                    LEGS.c.account_id == SETTLED.c.account_id,
                    LEGS.c.service_day == SETTLED.c.service_day,
                    LEGS.c.version == SETTLED.c.version,
                ),
            )
            .where(
                LEGS.c.pass_product_id.is_(None),
                or_(LEGS.c.capped, LEGS.c.joined, LEGS.c.transfer_product_id.is_not(None)),
            )
            .distinct()
        )

    async def single_fares(self, day: date) -> dict[str, int]:
        """Per operator: the charges of collected legs that are pools of their own."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(legs.c.operator_id, func.sum(legs.c.amount))
            .join(
                SETTLED,
                and_(SETTLED.c.service_day == day, SETTLED.c.account_id == legs.c.account_id),
            )
            .where(
                legs.c.pass_product_id.is_(None),
                legs.c.amount > 0,
                legs.c.account_id.not_in(self._pooled_accounts(day)),
                ~self._uncollected(day),
            )
            .group_by(legs.c.operator_id)
        )
        return {op: int(total) for op, total in rows}

    async def pooled_legs(self, day: date) -> list[LegRow]:
        """Legs of the collected account-days whose legs share pools, in leg order."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(
                legs.c.account_id,
                legs.c.operator_id,
                legs.c.amount,
                legs.c.undiscounted_amount,
                legs.c.capped,
                or_(legs.c.joined, legs.c.transfer_product_id.is_not(None)),
                legs.c.pass_product_id,
            )
            .join(
                SETTLED,
                and_(SETTLED.c.service_day == day, SETTLED.c.account_id == legs.c.account_id),
            )
            .where(legs.c.account_id.in_(self._pooled_accounts(day)), ~self._uncollected(day))
            .order_by(legs.c.account_id, legs.c.leg_index)
        )
        return [
            LegRow(a, op, int(amt), int(und), bool(cap), bool(cont), pp)
            for a, op, amt, und, cap, cont, pp in rows
        ]

    async def rides_by_operator(self, day: date) -> dict[str, tuple[int, int]]:
        """Per operator: (rides, undiscounted value) of every settled leg, pass rides too."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(legs.c.operator_id, func.count(), func.sum(legs.c.undiscounted_amount)).group_by(
                legs.c.operator_id
            )
        )
        return {op: (int(n), int(value)) for op, n, value in rows}

    async def parking_fees(self, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
        """Per parking operator: (sessions, fees) of the parking fees posted in the window
        (`parking:{session}[:{part}]`, and the captures of parking holds) and of the monthly
        permits sold in it (`parking-permit:{permit}`, each counted as one session, its whole
        price the operator's on the day of sale), as their credits to the operator's payable
        net of any reversal."""
        sessions: dict[str, set[str]] = {}
        fees: dict[str, int] = {}
        for posting_id, code, _, amount in await self._parking_fee_credits(start, end):
            operator_id = code.removeprefix(OPERATOR_PREFIX)
            session = posting_id.removeprefix(_HOLD_PREFIX).removeprefix(_FEE_PREFIX)
            session = session.removeprefix(_PERMIT_PREFIX)
            for suffix in (_CAPTURE_SUFFIX, ":rest", ":debt", ":reversal"):
                session = session.removesuffix(suffix)
            sessions.setdefault(operator_id, set()).add(session)
            fees[operator_id] = fees.get(operator_id, 0) + amount
        return {op: (len(sessions[op]), fee) for op, fee in sorted(fees.items()) if fee}

    async def parking_fees_by_hour(self, start: datetime, end: datetime) -> dict[int, int]:
        """The same fees by local hour (Asia/Ho_Chi_Minh) of their posting: the exit."""
        by_hour: dict[int, int] = {}
        for _, _, occurred_at, amount in await self._parking_fee_credits(start, end):
            hour = occurred_at.astimezone(_SERVICE_ZONE).hour
            by_hour[hour] = by_hour.get(hour, 0) + amount
        return {hour: fee for hour, fee in sorted(by_hour.items()) if fee}

    async def _parking_fee_credits(
        self, start: datetime, end: datetime
    ) -> list[tuple[str, str, datetime, int]]:
        """(posting, operator account, posted at, credit) of every parking fee posting in the
        window: whole fees, their rests and reversals, captured parking holds, permits sold."""
        rows = await self._session.execute(
            select(
                ENTRIES.c.posting_id,
                ENTRIES.c.account_code,
                POSTINGS.c.occurred_at,
                func.sum(ENTRIES.c.amount),
            )
            .join(POSTINGS, POSTINGS.c.id == ENTRIES.c.posting_id)
            .where(
                POSTINGS.c.occurred_at >= start,
                POSTINGS.c.occurred_at < end,
                ENTRIES.c.account_code.startswith(OPERATOR_PREFIX, autoescape=True),
                or_(
                    POSTINGS.c.id.startswith(_FEE_PREFIX, autoescape=True),
                    POSTINGS.c.id.startswith(_PERMIT_PREFIX, autoescape=True),
                    and_(
                        POSTINGS.c.id.startswith(_HOLD_PREFIX, autoescape=True),
                        POSTINGS.c.id.endswith(_CAPTURE_SUFFIX, autoescape=True),
                    ),
                ),
            )
            .group_by(ENTRIES.c.posting_id, ENTRIES.c.account_code, POSTINGS.c.occurred_at)
        )
        # Entries are signed debit-positive: an operator's payable is credited, so negative.
        return [(posting, code, at, -int(amount)) for posting, code, at, amount in rows]

    async def pass_rides(self, day: date) -> dict[str, dict[str, int]]:
        """Per pass product, per operator: the undiscounted value of its holders' rides."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(legs.c.pass_product_id, legs.c.operator_id, func.sum(legs.c.undiscounted_amount))
            .where(legs.c.pass_product_id.is_not(None))
            .group_by(legs.c.pass_product_id, legs.c.operator_id)
        )
        ridden: dict[str, dict[str, int]] = {}
        for product, op, value in rows:
            ridden.setdefault(product, {})[op] = int(value)
        return ridden

    async def charges_by_hour(self, day: date) -> dict[int, int]:
        """Charged fares by local hour (Asia/Ho_Chi_Minh, UTC+7 all year) of the leg's start."""
        legs = self._settled_legs(day).subquery("legs")
        if dialect_name(self._session) == "postgresql":
            hour: Any = cast(
                func.extract("hour", func.timezone("Asia/Ho_Chi_Minh", legs.c.started_at)), Integer
            )
        else:
            hour = cast(func.strftime("%H", legs.c.started_at, "+7 hours"), Integer)
        rows = await self._session.execute(
            select(hour.label("hour"), func.sum(legs.c.amount))
            .where(legs.c.amount > 0)
            .group_by(hour)
        )
        return {int(h): int(total) for h, total in rows}

    async def unpriced_legs(self, day: date) -> list[tuple[str, int, str, str]]:
        """(account, leg index, route, operator) of settled legs no fare product priced
        (issue 13: priced at 0, kept as exceptions), pass rides excepted."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(legs.c.account_id, legs.c.leg_index, legs.c.route_id, legs.c.operator_id)
            .where(legs.c.fare_product_id.is_(None), legs.c.pass_product_id.is_(None))
            .order_by(legs.c.account_id, legs.c.leg_index)
        )
        return [(a, int(i), r, o) for a, i, r, o in rows]

    async def passes_valid(self, start: datetime, end: datetime) -> list[Any]:
        """Pass sales whose validity overlaps [start, end) and that were paid (posted)."""
        rows = await self._session.execute(
            select(
                PASSES.c.id,
                PASSES.c.fare_product_id,
                PASSES.c.price_amount,
                PASSES.c.price_currency,
                PASSES.c.valid_from,
                PASSES.c.valid_until,
            )
            .where(
                PASSES.c.valid_from < end,
                PASSES.c.valid_until > start,
                PASSES.c.posting_id.is_not(None),
            )
            .order_by(PASSES.c.id)
        )
        return list(rows)

    async def charges_collected(self, day: date) -> int:
        return int(
            await self._session.scalar(
                select(func.count(func.distinct(ATTEMPTS.c.charge_key)))
                .select_from(ATTEMPTS)
                .where(
                    ATTEMPTS.c.purpose == PaymentPurpose.DAILY_CHARGE.value,
                    ATTEMPTS.c.service_day == day,
                    ATTEMPTS.c.status.in_(COLLECTED_STATUSES),
                )
            )
            or 0
        )

    # -- the ledger's side of reconciliation ------------------------------------------------

    async def ledger_payments(self, start: datetime, end: datetime) -> list[Any]:
        return await self._succeeded_attempts(
            ATTEMPTS.c.created_at >= start, ATTEMPTS.c.created_at < end
        )

    async def ledger_payments_by_ids(self, ids: Iterable[str]) -> list[Any]:
        """Collected attempts by id, whatever their period (records of open exceptions)."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        return await self._succeeded_attempts(ATTEMPTS.c.id.in_(wanted))

    async def _succeeded_attempts(self, *where: ColumnElement[bool]) -> list[Any]:
        """The ledger's side of a payment line, of the succeeded attempts matching `where`."""
        rows = await self._session.execute(
            select(
                ATTEMPTS.c.id,
                ATTEMPTS.c.charge_key,
                ATTEMPTS.c.amount,
                ATTEMPTS.c.currency,
                ATTEMPTS.c.gateway_payment_id,
                ATTEMPTS.c.service_day,
                ATTEMPTS.c.created_at,
            )
            .where(ATTEMPTS.c.status == AttemptStatus.SUCCEEDED.value, *where)
            .order_by(ATTEMPTS.c.id)
        )
        return list(rows)

    async def ledger_refunds(self, start: datetime, end: datetime) -> list[Any]:
        rows = await self._session.execute(
            select(
                REFUNDS.c.id,
                REFUNDS.c.attempt_id,
                REFUNDS.c.amount,
                REFUNDS.c.currency,
                REFUNDS.c.gateway_refund_id,
                REFUNDS.c.created_at,
            )
            .where(
                REFUNDS.c.status == RefundRecordStatus.SUCCEEDED.value,
                REFUNDS.c.created_at >= start,
                REFUNDS.c.created_at < end,
            )
            .order_by(REFUNDS.c.id)
        )
        return list(rows)

    async def known_charge_keys(self, before: datetime) -> list[str]:
        rows = await self._session.execute(
            select(ATTEMPTS.c.charge_key)
            .where(
                ATTEMPTS.c.charge_key.is_not(None),
                ATTEMPTS.c.status.in_(COLLECTED_STATUSES),
                ATTEMPTS.c.created_at < before,
            )
            .distinct()
        )
        return [key for key in rows.scalars() if key is not None]

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
                    kind=item.kind,
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

    async def collected_since(self, kind: str, before: date) -> list[StoredException]:
        """Open exceptions of `kind` (uncollected days) of days before `before` whose daily
        charge has since been collected (paid, or recovered by a retry or a top-up)."""
        rows = await self._session.execute(
            select(EXCEPTIONS)
            .where(
                EXCEPTIONS.c.kind == kind,
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
                        ATTEMPTS.c.account_id == r.detail["account"],
                        ATTEMPTS.c.service_day == r.record_day,
                        ATTEMPTS.c.status.in_(COLLECTED_STATUSES),
                    )
                )
            )
            if collected:
                found.append(_stored_exception(r))
        return found

    async def resolved_on(self, kind: str, day: date) -> list[StoredException]:
        """Exceptions of `kind` the run of `day` resolved."""
        rows = await self._session.execute(
            select(EXCEPTIONS)
            .where(EXCEPTIONS.c.kind == kind, EXCEPTIONS.c.resolved_on == day)
            .order_by(EXCEPTIONS.c.key)
        )
        return [_stored_exception(r) for r in rows]

    async def settled_weights(self, account_id: str, day: date) -> dict[str, int]:
        """`version_weights` of the version `day` settled the account-day at."""
        version = await self._session.scalar(
            select(SETTLED.c.version).where(
                SETTLED.c.account_id == account_id, SETTLED.c.service_day == day
            )
        )
        if version is None:
            return {}
        return await self.version_weights(account_id, day, int(version))

    async def exceptions_first_seen(self, day: date) -> list[StoredException]:
        rows = await self._session.execute(
            select(EXCEPTIONS).where(EXCEPTIONS.c.first_seen == day).order_by(EXCEPTIONS.c.key)
        )
        return [_stored_exception(r) for r in rows]

    async def version_weights(self, account_id: str, day: date, version: int) -> dict[str, int]:
        """Undiscounted value per operator of one version's paid (non-pass) legs."""
        rows = await self._session.execute(
            select(LEGS.c.operator_id, func.sum(LEGS.c.undiscounted_amount))
            .where(
                LEGS.c.account_id == account_id,
                LEGS.c.service_day == day,
                LEGS.c.version == version,
                LEGS.c.pass_product_id.is_(None),
            )
            .group_by(LEGS.c.operator_id)
        )
        return {op: int(value) for op, value in rows}

    async def suspense_posted(self, day: date) -> int:
        """What the settlement run of `day` moved into the ledger's reconciliation suspense
        account (credits positive, as `ReconLine.suspense`), every currency summed."""
        total = await self._session.scalar(
            select(func.coalesce(func.sum(ENTRIES.c.amount), 0)).where(
                ENTRIES.c.account_code == RECONCILIATION_SUSPENSE,
                ENTRIES.c.posting_id.startswith(suspense_move_id(day, ""), autoescape=True),
            )
        )
        return -int(total or 0)

    async def trial_balance(self) -> int:
        """The ledger's debits less its credits (0 when it balances)."""
        return int(
            await self._session.scalar(select(func.coalesce(func.sum(ENTRIES.c.amount), 0))) or 0
        )

    async def tap_day_exists(self, start: datetime, end: datetime) -> bool:
        return bool(
            await self._session.scalar(select(exists().where(TAPS.c.at >= start, TAPS.c.at < end)))
        )


def _stored_exception(row: Any) -> StoredException:
    return StoredException(
        row.key,
        row.kind,
        row.currency,
        row.amount,
        row.suspense,
        row.record_day,
        row.first_seen,
        row.detail,
    )
