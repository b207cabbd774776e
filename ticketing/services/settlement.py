"""Use case: settle one service day for finance (issue 9; the rules in docs/SETTLEMENT.md).

`settle` runs in stages, each committed with a checkpoint on the day's settlement record, so a
run killed between stages is completed by the next run with nothing done twice:

1. close: refuse before the cut-off (04:00 Asia/Ho_Chi_Minh the next morning); record who,
   when, and the tap and ledger watermarks;
2. price: price the day's account-days whose taps changed since their latest price (nothing
   priced twice: an unchanged day is left as it is), pin the version each account-day settles
   at, and turn changes to earlier settled days (late taps) into adjustments of this run;
3. charge: one aggregated charge per account that owes (postpaid or indebted) through the
   payments service; already charged: skipped; declines go to debt recovery; then a second
   payment of an account-day at the gateway (a late request that slipped past a timeout) is
   voided, or refunded, and recorded as a `duplicate` exception, settled at once;
4. reconcile: the gateway's listings of the period since the previous run against the
   ledger's payment records, rolled into suspense;
5. apportion and 6. report: the pure rules over SQL aggregates, the reports written, the
   figures and digest stored. A settled day is never computed again: a rerun returns its
   stored figures (same digest, nothing written).

Two runs of one day at once: the second refuses (`SettlementInProgress`). The lock is a
PostgreSQL session advisory lock, or on SQLite an exclusive `flock` on a file beside the
database: a run spans many transactions and gateway calls, so holding SQLite's own write lock
for its length would stall every writer (and the payments flows' own transactions).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from faregate_data.chart_of_accounts import load_chart
from faregate_data.operators import OperatorRegistry, load_operators
from gateways.errors import GatewayRequestRejected
from gateways.protocol import Gateway
from ticketing import postings
from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts as ledger_accounts
from ticketing.money import Money
from ticketing.payments.service import PaymentsService
from ticketing.service_day import service_day, service_day_start
from ticketing.services import audit
from ticketing.services.charging import charge_service_day
from ticketing.services.taps import price_account_days
from ticketing.settlement.apportion import (
    Apportionment,
    PassSale,
    PoolKind,
    RevenuePool,
    Ride,
    apportion,
    day_pools,
    pass_pools,
    split,
)
from ticketing.settlement.controls import SettledDay, control_totals, exception_figures
from ticketing.settlement.errors import DayNotClosed, SettlementInProgress
from ticketing.settlement.journal import JournalLine, RecordedPosting, journal_lines
from ticketing.settlement.reconcile import (
    Category,
    LedgerPayment,
    LedgerRefund,
    OpenException,
    ReconLine,
    Side,
    SuspenseRoll,
    from_gateway_payment,
    from_gateway_refund,
    gateway_fees,
    reconcile,
    roll_suspense,
)
from ticketing.settlement.statements import build_statements
from ticketing.settlement.writers import write_reports
from ticketing.stores.settlement import PendingAdjustment, StoredException
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

STAGES = ("closed", "priced", "charged", "reconciled", "apportioned", "reported")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UNPRICED_LEG = "unpriced_leg"
UNCOLLECTED = "uncollected"
DEFAULT_CURRENCY = "VND"
DEFAULT_GATEWAY = "stripe"  # the clearing account's gateway when no payments service is given

StageHook = Callable[[str], None]
_RUNNING_IN_MEMORY: set[tuple[int, date]] = set()  # (engine, day) of runs on in-memory SQLite


@dataclass(frozen=True, slots=True)
class SettlementOutcome:
    """What `faregate settle` prints: the `--json` summary, and whether this run settled it."""

    summary: dict[str, Any]
    already_settled: bool
    dry_run: bool


def default_report_dir(data_dir: Path, day: date) -> Path:
    """Where a day's reports go unless told otherwise: DATA_DIR/settlement/DAY (`faregate
    settle`, the finance API and page, the demo)."""
    return data_dir / "settlement" / day.isoformat()


def cut_off(day: date) -> datetime:
    """When `day` may be closed: 04:00 Asia/Ho_Chi_Minh the next morning."""
    return service_day_start(day + timedelta(days=1))


def day_window(day: date) -> tuple[datetime, datetime]:
    return service_day_start(day), service_day_start(day + timedelta(days=1))


# -- locking -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def settlement_lock(engine: AsyncEngine, day: date) -> AsyncIterator[None]:
    """Exclusive right to settle `day`, or SettlementInProgress at once."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            # Advisory locks are cluster-wide: the schema in the key keeps two Faregate databases
            # (or schemas) on one server from blocking each other's settlements.
            schema = await connection.scalar(text("SELECT current_schema()"))
            key = int.from_bytes(
                hashlib.sha256(f"settle:{schema}:{day}".encode()).digest()[:8], "big", signed=True
            )
            got = await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            await connection.commit()
            if not got:
                raise SettlementInProgress(f"a settlement of {day} is already running")
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await connection.commit()
        return
    database = engine.url.database or ""
    path = Path(f"{database}.settle-{day}.lock") if database and database != ":memory:" else None
    if path is None:  # an in-memory database lives in this process only: so does its lock
        running = (id(engine), day)
        if running in _RUNNING_IN_MEMORY:
            raise SettlementInProgress(f"a settlement of {day} is already running")
        _RUNNING_IN_MEMORY.add(running)
        try:
            yield
        finally:
            _RUNNING_IN_MEMORY.discard(running)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SettlementInProgress(f"a settlement of {day} is already running") from None
        yield
    finally:
        os.close(fd)


# -- the run ---------------------------------------------------------------------------------


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
) -> SettlementOutcome:
    """Settle `day` (see the module docstring). Without a gateway the charge and reconcile
    stages are skipped (nothing to charge through, nothing to list). Reports name operators,
    and the payouts file pays them, by `registry`, by default the shipped operator registry.
    Each run
    that starts or resumes the day is in the audit log as `who`'s (a dry run changes nothing
    and is not)."""
    now = uows.clock()
    operators = load_operators() if registry is None else registry
    if now < cut_off(day):
        raise DayNotClosed(
            f"service day {day} cannot be settled before its cut-off "
            f"{cut_off(day).isoformat()} (now {now.astimezone(cut_off(day).tzinfo).isoformat()})"
        )
    async with uows() as uow:
        record = await uow.settlement.day(day)
    if record is not None and record.digest is not None and record.figures is not None:
        summary = dict(record.figures["summary"])
        return SettlementOutcome(summary, already_settled=True, dry_run=dry_run)
    if dry_run:
        settled = await _compute(uows, day, gateway, dry_run=True)
        files = write_reports(
            settled, report_dir, registry=operators, journal=await _journal(uows, day),
            written_at=uows.clock(),
        )  # fmt: skip
        return SettlementOutcome(settled.summary(str(files.html)), False, True)

    async with settlement_lock(uows.engine, day):
        stage = record.stage if record is not None else None

        def done(name: str) -> bool:
            return stage is not None and STAGES.index(stage) >= STAGES.index(name)

        def passed(name: str) -> None:
            if after_stage is not None:
                after_stage(name)

        async def start(uow: UnitOfWork) -> None:
            if not done("closed"):
                await uow.settlement.close(day, who=who.name, at=uows.clock())
            await audit.record(
                uow, who, AuditAction.SETTLEMENT_STARTED,
                Target(TargetKind.SERVICE_DAY, day.isoformat()),
                after={"resumed_after": stage} if done("closed") else None,
            )  # fmt: skip

        await run_in_uow(uows, start)
        if not done("closed"):
            passed("closed")
        if not done("priced"):
            await _price(uows, feed, day)
            passed("priced")
        if not done("charged"):
            if payments is not None:
                async with uows() as uow:
                    accounts = await uow.settlement.priced_accounts(day)
                await charge_service_day(uows, payments, day, accounts)
                await _void_duplicates(uows, day, payments)
            await _checkpoint(uows, day, "charged")
            passed("charged")
        if not done("reconciled"):
            clearing = (
                payments.clearing_account
                if payments is not None
                else ledger_accounts.gateway_clearing(DEFAULT_GATEWAY)
            )
            await _reconcile(uows, day, gateway, clearing)
            passed("reconciled")
        if not done("apportioned"):
            await _record_day_exceptions(uows, day)
            passed("apportioned")
        settled = await _compute(uows, day, gateway, dry_run=False)
        files = write_reports(
            settled, report_dir, registry=operators, journal=await _journal(uows, day),
            written_at=uows.clock(),
        )  # fmt: skip
        summary = settled.summary(str(files.html))
        figures = {**settled.figures(), "summary": summary}

        async def finish(uow: UnitOfWork) -> None:
            await uow.settlement.finish(day, digest=settled.digest(), figures=figures)

        await run_in_uow(uows, finish)
        passed("reported")
        return SettlementOutcome(summary, already_settled=False, dry_run=False)


async def _journal(uows: UnitOfWorkFactory, day: date) -> tuple[JournalLine, ...]:
    """The general-ledger journal of `day`: the postings recorded in its window."""
    async with uows() as uow:
        recorded = await uow.ledger.postings_recorded(*day_window(day))
    return journal_lines(
        day,
        (RecordedPosting(posting=p, recorded_at=at) for p, at in recorded),
        load_chart(),
    )


async def _checkpoint(
    uows: UnitOfWorkFactory, day: date, stage: str, reconciled_until: datetime | None = None
) -> None:
    async def mark(uow: UnitOfWork) -> None:
        await uow.settlement.set_stage(day, stage, reconciled_until=reconciled_until)

    await run_in_uow(uows, mark)


async def _void_duplicates(uows: UnitOfWorkFactory, day: date, payments: PaymentsService) -> None:
    """Void (or refund) the duplicate daily charges of the period the reconcile stage lists,
    before it lists them, so each account-day ends charged once; each is recorded as a
    `duplicate` exception with its amount, resolved on the spot: nothing is left in suspense
    (a voided authorisation moved no money; a refunded one nets to nothing, so the reconcile
    stage leaves it and its refund out)."""
    async with uows() as uow:
        since = await uow.settlement.previous_reconciled_until(day) or EPOCH
    handled = await payments.void_duplicate_charges(since, uows.clock())
    if not handled:
        return
    items = [
        StoredException(
            key=f"{Side.PAYMENT}:gateway:{d.payment_id}",
            kind=str(Category.DUPLICATE),
            currency=d.amount.currency,
            amount=d.amount.amount,
            suspense=0,
            record_day=day,
            first_seen=day,
            detail={
                "category": str(Category.DUPLICATE),
                "side": str(Side.PAYMENT),
                "currency": d.amount.currency,
                "ledger_ref": None,
                "gateway_ref": d.payment_id,
                "charge_key": d.charge_key,
                "ledger_amount": None,
                "gateway_amount": d.amount.amount,
                "record_day": day.isoformat(),
                "action": str(d.action),
            },
        )
        for d in handled
    ]

    async def record(uow: UnitOfWork) -> None:
        await uow.settlement.add_exceptions(items)
        await uow.settlement.resolve_exceptions((item.key for item in items), day)

    await run_in_uow(uows, record)


async def _handled_duplicates(uow: UnitOfWork, day: date) -> list[StoredException]:
    """The duplicates the charge stage of `day` voided or refunded (see `_void_duplicates`)."""
    return [
        e
        for e in await uow.settlement.exceptions_first_seen(day)
        if e.kind == Category.DUPLICATE and "action" in e.detail
    ]


async def _record_day_exceptions(uows: UnitOfWorkFactory, day: date) -> None:
    """The day's settlement exceptions (unpriced legs, uncollected days) stored with the
    checkpoint: kept in the exceptions table beside the suspense items, never dropped."""

    async def record(uow: UnitOfWork) -> None:
        items = [
            StoredException(
                key=f"{UNPRICED_LEG}:{account}:{day}:{index}",
                kind=UNPRICED_LEG,
                currency=DEFAULT_CURRENCY,
                amount=0,
                suspense=0,
                record_day=day,
                first_seen=day,
                detail={"account": account, "leg_index": index, "route": route, "operator": op},
            )
            for account, index, route, op in await uow.settlement.unpriced_legs(day)
        ]
        items.extend(
            StoredException(
                key=f"{UNCOLLECTED}:{account}:{day}",
                kind=UNCOLLECTED,
                currency=currency,
                amount=total,
                suspense=0,
                record_day=day,
                first_seen=day,
                detail={"account": account, "day_total": total},
            )
            for account, total, currency in await uow.settlement.uncollected_days(day)
        )
        await uow.settlement.add_exceptions(items)
        # Uncollected days of earlier runs collected since: apportioned by this run.
        recovered = await uow.settlement.collected_since(UNCOLLECTED, day)
        await uow.settlement.resolve_exceptions((e.key for e in recovered), day)
        await uow.settlement.set_stage(day, "apportioned")

    await run_in_uow(uows, record)


async def _price(uows: UnitOfWorkFactory, feed: FareFeed, day: date) -> None:
    """Price what is pending for `day` and for earlier settled days (late taps), pin the
    versions `day` settles at, and record the adjustments of earlier days."""
    keys: set[tuple[str, date]] = set()
    async with uows() as uow:
        start, end = day_window(day)
        keys.update(
            (account, day) for account in await uow.settlement.pending_account_days(day, start, end)
        )
        for earlier in await uow.settlement.days():
            if earlier.day < day and earlier.state == "settled":
                e_start, e_end = day_window(earlier.day)
                late = await uow.settlement.late_accounts(
                    earlier.day, e_start, e_end, earlier.tap_watermark
                )
                keys.update((account, earlier.day) for account in late)
    if keys:
        await price_account_days(uows, feed, keys)

    async def pin(uow: UnitOfWork) -> None:
        await uow.settlement.record_settled_versions(day)
        adjustments = await uow.settlement.pending_adjustments(day)
        await uow.settlement.record_adjustments(day, adjustments)
        await uow.settlement.set_stage(day, "priced")

    await run_in_uow(uows, pin)


def _stored(line: ReconLine, first_seen: date, as_of: date) -> StoredException:
    exception = OpenException(line=line, first_seen=first_seen)
    return StoredException(
        key=line.key,
        kind=str(line.category),
        currency=line.currency,
        amount=line.amount,
        suspense=line.suspense,
        record_day=line.day,
        first_seen=first_seen,
        detail=exception_figures(exception, as_of),
    )


def _line(stored: StoredException) -> ReconLine:
    d = stored.detail
    return ReconLine(
        category=Category(d["category"]),
        side=Side(d["side"]),
        currency=d["currency"],
        ledger_ref=d["ledger_ref"],
        gateway_ref=d["gateway_ref"],
        charge_key=d["charge_key"],
        ledger_amount=d["ledger_amount"],
        gateway_amount=d["gateway_amount"],
        day=date.fromisoformat(d["record_day"]),
    )


@dataclass(frozen=True, slots=True)
class _SuspenseMove:
    """One exception's change in suspense by a run (the ledger posting's figures)."""

    key: str
    currency: str
    amount: int
    reason: str  # opened | changed | resolved


@dataclass(frozen=True, slots=True)
class _Recon:
    counts: dict[str, int]
    cash_difference: int
    fees: int | None
    previous: tuple[OpenException, ...]
    open: tuple[OpenException, ...]
    resolved: tuple[str, ...]
    opened: tuple[OpenException, ...]
    suspense_moved: int
    moves: tuple[_SuspenseMove, ...] = ()
    changed: tuple[OpenException, ...] = ()


def _suspense_moves(
    previous: Sequence[OpenException], roll: SuspenseRoll
) -> tuple[tuple[_SuspenseMove, ...], tuple[OpenException, ...]]:
    """Per exception, what the run moves into suspense (its new figure less its previous
    one; all of it out when resolved), and the carried exceptions whose figures changed."""
    before = {e.key: e.line for e in previous}
    moves, changed = [], []
    for exception in roll.open:
        old = before.get(exception.key)
        delta = exception.line.suspense - (old.suspense if old is not None else 0)
        if old is not None and old != exception.line:
            changed.append(exception)
        if delta:
            reason = "opened" if old is None else "changed"
            moves.append(_SuspenseMove(exception.key, exception.line.currency, delta, reason))
    for exception in roll.resolved:
        if exception.line.suspense:
            moves.append(
                _SuspenseMove(
                    exception.key, exception.line.currency, -exception.line.suspense, "resolved"
                )
            )
    return tuple(sorted(moves, key=lambda m: m.key)), tuple(changed)


async def _gateway_side(
    uows: UnitOfWorkFactory, day: date, gateway: Gateway | None, until: datetime
) -> _Recon:
    """Reconcile the period since the previous run's listing up to `until` (no writes)."""
    async with uows() as uow:
        since = await uow.settlement.previous_reconciled_until(day) or EPOCH
        previous_stored = [
            e
            for e in await uow.settlement.open_exceptions(before=None)
            if e.kind in {str(c) for c in Category} and e.first_seen != day
        ]
        ledger_payments = await uow.settlement.ledger_payments(since, until)
        ledger_refunds = await uow.settlement.ledger_refunds(since, until)
        known_keys = await uow.settlement.known_charge_keys(since)
        handled = {e.detail["gateway_ref"] for e in await _handled_duplicates(uow, day)}
    previous = tuple(OpenException(line=_line(e), first_seen=e.first_seen) for e in previous_stored)
    if gateway is None:
        return _Recon({}, 0, None, previous, previous, (), (), 0)
    # The records of open exceptions come back whatever their period, so that one fixed since
    # (the ledger corrected, the payment reached the gateway) is matched and leaves suspense.
    reopened = [e.line for e in previous if e.line.side is Side.PAYMENT]
    async with uows() as uow:
        seen_ids = {row.id for row in ledger_payments}
        ledger_payments = [
            *ledger_payments,
            *(
                row
                for row in await uow.settlement.ledger_payments_by_ids(
                    line.ledger_ref for line in reopened if line.ledger_ref is not None
                )
                if row.id not in seen_ids
            ),
        ]
    listed = await gateway.list_payments(since, until)
    listed_ids = {p.id for p in listed}
    wanted = sorted(
        {line.gateway_ref for line in reopened if line.gateway_ref is not None}
        | {row.gateway_payment_id for row in ledger_payments if row.gateway_payment_id}
    )
    for payment_id in wanted:
        if payment_id not in listed_ids:
            try:
                listed.append(await gateway.retrieve_payment(payment_id))
            except GatewayRequestRejected:  # not found: it stays missing at the gateway
                continue
            listed_ids.add(payment_id)
    payments = [
        from_gateway_payment(p, service_day(p.created)) for p in listed if p.id not in handled
    ]
    refunds = [
        from_gateway_refund(r, service_day(r.created))
        for r in await gateway.list_refunds(since, until)
        if r.payment_id not in handled
    ]
    fees = gateway_fees(await gateway.list_balance_transactions(since, until))
    mine = [
        LedgerPayment(
            attempt_id=row.id,
            charge_key=row.charge_key,
            amount=row.amount,
            currency=row.currency,
            gateway_payment_id=row.gateway_payment_id,
            day=row.service_day or service_day(row.created_at),
        )
        for row in ledger_payments
    ]
    my_refunds = [
        LedgerRefund(
            refund_id=row.id,
            attempt_id=row.attempt_id,
            amount=row.amount,
            currency=row.currency,
            gateway_refund_id=row.gateway_refund_id,
            day=service_day(row.created_at),
        )
        for row in ledger_refunds
    ]
    result = reconcile(mine, my_refunds, payments, refunds, known_charge_keys=known_keys)
    roll = roll_suspense(previous, result, day)
    moves, changed = _suspense_moves(previous, roll)
    today_refs = frozenset(ref for line in result.lines for ref in line.refs)
    counted_before = sum(e.line.suspense for e in previous if e.line.refs & today_refs)
    cash = (
        sum(p.amount for p in payments if p.collected)
        - sum(r.amount for r in refunds if r.paid)
        - sum(p.amount for p in mine)
        + sum(r.amount for r in my_refunds)
        - counted_before
    )
    return _Recon(
        counts={str(k): v for k, v in result.counts().items() if k is not Category.MATCHED},
        cash_difference=cash,
        fees=None if fees is None else sum(fees.values()),
        previous=previous,
        open=roll.open,
        resolved=tuple(e.key for e in roll.resolved),
        opened=roll.opened,
        suspense_moved=sum(roll.movement(previous).values()),
        moves=moves,
        changed=changed,
    )


async def _reconcile(
    uows: UnitOfWorkFactory, day: date, gateway: Gateway | None, clearing: str
) -> None:
    """Reconcile, store the exceptions, and post each one's suspense move to the ledger in
    the same transaction as the checkpoint (posting ids from the day and the exception)."""
    until = uows.clock()
    recon = await _gateway_side(uows, day, gateway, until)
    summary = {
        "counts": recon.counts,
        "cash_difference": recon.cash_difference,
        "fees": recon.fees,
        "resolved": list(recon.resolved),
        "previous": [e.key for e in recon.previous],
        "suspense_moved": recon.suspense_moved,
    }

    async def record(uow: UnitOfWork) -> None:
        await uow.settlement.add_exceptions(_stored(e.line, day, day) for e in recon.opened)
        await uow.settlement.update_exceptions(
            _stored(e.line, e.first_seen, day) for e in recon.changed
        )
        await uow.ledger.post_many(
            [
                postings.suspense_move(
                    day,
                    move.key,
                    clearing=clearing,
                    amount=Money(move.amount, move.currency),
                    at=until,
                    reason=move.reason,
                )
                for move in recon.moves
            ]
        )
        await uow.settlement.add_exceptions(
            [
                StoredException(
                    key=f"reconcile:{day}",
                    kind="_run",
                    currency=DEFAULT_CURRENCY,
                    amount=0,
                    suspense=0,
                    record_day=day,
                    first_seen=day,
                    detail=summary,
                )
            ]
        )
        await uow.settlement.resolve_exceptions([*recon.resolved, f"reconcile:{day}"], day)
        await uow.settlement.set_stage(day, "reconciled", reconciled_until=until)

    await run_in_uow(uows, record)


async def _stored_recon(uows: UnitOfWorkFactory, day: date) -> _Recon:
    """What the reconcile stage of `day` recorded (it may have run in an earlier process)."""
    async with uows() as uow:
        seen = await uow.settlement.exceptions_first_seen(day)
        still_open = await uow.settlement.open_exceptions()
    run = next((e for e in seen if e.kind == "_run"), None)
    if run is None:
        return _Recon({}, 0, None, (), (), (), (), 0)
    detail = run.detail
    categories = {str(c) for c in Category}
    open_ = tuple(
        OpenException(line=_line(e), first_seen=e.first_seen)
        for e in still_open
        if e.kind in categories and e.first_seen <= day
    )
    opened = tuple(o for o in open_ if o.first_seen == day)
    return _Recon(
        counts=dict(detail["counts"]),
        cash_difference=int(detail["cash_difference"]),
        fees=detail["fees"],
        previous=(),
        open=open_,
        resolved=tuple(detail["resolved"]),
        opened=opened,
        suspense_moved=int(detail["suspense_moved"]),
    )


def _rides(legs: Sequence[Any]) -> dict[str, list[Ride]]:
    by_account: dict[str, list[Ride]] = defaultdict(list)
    for leg in legs:
        by_account[leg.account_id].append(
            Ride(
                operator_id=leg.operator_id,
                undiscounted=leg.undiscounted,
                charged=leg.amount,
                continues_previous=leg.continues_previous,
                capped=leg.capped,
                pass_product_id=leg.pass_product_id,
            )
        )
    return by_account


async def _compute(
    uows: UnitOfWorkFactory, day: date, gateway: Gateway | None, *, dry_run: bool
) -> SettledDay:
    """The day's settled figures from the database (and, for a dry run, the gateway)."""
    start, end = day_window(day)
    async with uows() as uow:
        store = uow.settlement
        if dry_run:
            # Nothing pinned yet: count the latest versions as they stand.
            await store.record_settled_versions(day)
        taps = await store.tap_count(start, end, up_to=None)
        account_days, _priced_total, currency = await store.day_totals(day)
        currency = currency or DEFAULT_CURRENCY
        uncollected = await store.uncollected_days(day)
        singles = await store.single_fares(day)
        parking = await store.parking_fees(start, end)
        pooled = await store.pooled_legs(day)
        rides = await store.rides_by_operator(day)
        ridden = await store.pass_rides(day)
        by_hour = await store.charges_by_hour(day)
        for hour, fee in (await store.parking_fees_by_hour(start, end)).items():
            by_hour[hour] = by_hour.get(hour, 0) + fee
        unpriced = await store.unpriced_legs(day)
        sales = await store.passes_valid(start, end)
        charges = await store.charges_collected(day)
        adjustments = await store.adjustments_of(day) if not dry_run else []
        adjustment_weights = {
            (a.original_day, a.account_id): await _weights(uow, a) for a in adjustments
        }
        recovered = (
            await store.collected_since(UNCOLLECTED, day)
            if dry_run
            else await store.resolved_on(UNCOLLECTED, day)
        )
        recovered_weights = {
            e.key: await store.settled_weights(e.detail["account"], e.record_day) for e in recovered
        }
        trial_balance = await store.trial_balance()
        suspense_in_ledger = None if dry_run else await store.suspense_posted(day)
        duplicates_handled = len(await _handled_duplicates(uow, day))
        if dry_run:
            await uow.rollback()  # the pinned versions were only for this computation
    if dry_run:
        recon = await _gateway_side(uows, day, gateway, uows.clock())
        suspense_in_ledger = sum(move.amount for move in recon.moves)  # what it would post
    else:
        recon = await _stored_recon(uows, day)

    pools: list[RevenuePool] = [
        RevenuePool(id=f"single:{op}", kind=PoolKind.SINGLE, amount=amount, weights={op: 1})
        for op, amount in sorted(singles.items())
        if amount
    ]
    for account, account_rides in sorted(_rides(pooled).items()):
        pools.extend(day_pools(f"{account}:{day}", account_rides))
    pass_sales = [
        PassSale(
            id=row.id,
            product_id=row.fare_product_id,
            price=row.price_amount,
            first_day=service_day(row.valid_from),
            end_day=max(
                service_day(row.valid_until), service_day(row.valid_from) + timedelta(days=1)
            ),
        )
        for row in sales
    ]
    fallback = {
        sale.product_id: {op: value for op, (_, value) in rides.items()} for sale in pass_sales
    }
    pools.extend(_pass_pools(day, pass_sales, ridden, fallback))
    # Parking fees: single fares of the lot's operator (pool of their own), one ride a session.
    pools.extend(
        RevenuePool(id=f"parking:{op}", kind=PoolKind.SINGLE, amount=amount, weights={op: 1})
        for op, (_, amount) in parking.items()
    )
    for op, (sessions, amount) in parking.items():
        n, value = rides.get(op, (0, 0))
        rides[op] = (n + sessions, value + amount)
    refunds: dict[str, int] = defaultdict(int)
    adjusted = 0
    for item in adjustments:
        weights = adjustment_weights[(item.original_day, item.account_id)]
        if item.amount > 0:
            pools.append(
                RevenuePool(
                    id=f"adjustment:{item.account_id}:{item.original_day}:v{item.version}",
                    kind=PoolKind.ADJUSTMENT,
                    amount=item.amount,
                    weights=weights,
                )
            )
        elif item.amount < 0 and weights:
            for op, share in split(-item.amount, weights).items():
                refunds[op] += share
        adjusted += item.amount
    # An uncollected day of an earlier run, collected since: an adjustment naming that day,
    # split by that day's weights (its settled version's undiscounted value per operator).
    recovered_total = 0
    for exception in recovered:
        weights = recovered_weights[exception.key]
        if exception.currency != currency or not weights or not exception.amount:
            continue
        pools.append(
            RevenuePool(
                id=f"collected:{exception.detail['account']}:{exception.record_day}",
                kind=PoolKind.ADJUSTMENT,
                amount=exception.amount,
                weights=weights,
            )
        )
        recovered_total += exception.amount
    shares: Apportionment = apportion(pools)
    uncollected_total = sum(total for _, total, _ in uncollected)
    fares_collected = _priced_total - uncollected_total
    passes_recognised = sum(p.amount for p in pools if p.kind is PoolKind.PASS)
    fees = recon.fees or 0
    statements = build_statements(
        day=day,
        currency=currency,
        apportionment=shares,
        gross={op: value for op, (_, value) in rides.items()},
        rides={op: n for op, (n, _) in rides.items()},
        refunds=dict(refunds),
        fees=fees if shares.by_operator or rides else 0,
    )
    parking_collected = sum(amount for _, amount in parking.values())
    collected = (
        fares_collected
        + passes_recognised
        + parking_collected
        + adjusted
        + recovered_total
        + recon.cash_difference
    )
    controls = control_totals(
        statements,
        currency=currency,
        collected=collected,
        fees=fees,
        suspense=suspense_in_ledger or 0,
        suspense_exceptions=recon.suspense_moved,
        trial_balance=trial_balance,
    )
    exceptions_today: dict[str, int] = dict(recon.counts)
    if duplicates_handled:
        duplicate = str(Category.DUPLICATE)
        exceptions_today[duplicate] = exceptions_today.get(duplicate, 0) + duplicates_handled
    if unpriced:
        exceptions_today[UNPRICED_LEG] = len(unpriced)
    if uncollected:
        exceptions_today[UNCOLLECTED] = len(uncollected)
    return SettledDay(
        day=day,
        currency=currency,
        taps=taps,
        account_days=account_days,
        charges=charges,
        adjustments=len(adjustments) + len(recovered),
        apportionment=shares,
        statements=statements,
        controls=controls,
        exceptions_today=dict(sorted(exceptions_today.items())),
        open_exceptions=tuple(recon.open),
        revenue_by_hour=by_hour,
        day_exceptions={
            kind: (n, amount)
            for kind, n, amount in (
                (UNPRICED_LEG, len(unpriced), 0),
                (UNCOLLECTED, len(uncollected), uncollected_total),
            )
            if n
        },
    )


def _pass_pools(
    day: date,
    sales: Sequence[PassSale],
    ridden: dict[str, dict[str, int]],
    fallback: dict[str, dict[str, int]],
) -> list[RevenuePool]:
    """Pass pools weighted by the SQL-aggregated rides of each product's holders."""
    rides = [
        Ride(operator_id=op, undiscounted=value, charged=0, pass_product_id=product)
        for product, by_op in sorted(ridden.items())
        for op, value in sorted(by_op.items())
    ]
    return pass_pools(day, sales, rides, fallback)


async def _weights(uow: UnitOfWork, item: PendingAdjustment) -> dict[str, int]:
    """Undiscounted value per operator of the adjusted account-day's new version."""
    return await uow.settlement.version_weights(item.account_id, item.original_day, item.version)
