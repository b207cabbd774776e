"""The settlement run's reconcile stage (docs/SETTLEMENT.md §3, §4, §10): the gateway's listings
of the period since the previous run against the ledger's payment records, rolled into
suspense, each exception's change in suspense posted to the ledger.

Also the charge stage's last step, `void_duplicates`: a second payment of an account-day at the
gateway (a late request that slipped past a timeout) is voided or refunded before the period is
listed, and recorded as a `duplicate` exception settled at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx

from gateways.errors import GatewayRequestRejected
from gateways.protocol import BalanceTransaction, Gateway, Payment, Refund
from gateways.vnpay import VNPayConfig, query_transaction
from ticketing import postings
from ticketing.ledger import accounts as ledger_accounts
from ticketing.money import Money
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import TopUpOrderStatus
from ticketing.service_day import service_day
from ticketing.services.vnpay_top_ups import VNPAY, posting_attempt_id
from ticketing.settlement.controls import exception_figures
from ticketing.settlement.reconcile import (
    Category,
    GatewayPaymentRecord,
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
from ticketing.settlement.states import ExceptionKind, Stage
from ticketing.settlement.summary import ReconciliationFigures
from ticketing.stores.settlement import StoredException
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # the first run lists the gateway from here
VNPAY_PREFIX = posting_attempt_id("")  # VNPay top-ups' ids on both sides: vnpay:TXN_REF
VNPAY_CLEARING = ledger_accounts.gateway_clearing(VNPAY)
VNPAY_TIMEOUT = 30.0  # seconds per querydr


@dataclass(frozen=True, slots=True)
class SuspenseMove:
    """One exception's change in suspense by a run (the ledger posting's figures)."""

    key: str
    currency: str
    amount: int
    reason: str  # opened | changed | resolved


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciled:
    """A reconciliation of the period: its figures, the exceptions open after it, and what it
    changes (the exceptions opened and changed, the suspense moves to post)."""

    figures: ReconciliationFigures
    open: tuple[OpenException, ...]
    opened: tuple[OpenException, ...] = ()
    changed: tuple[OpenException, ...] = ()
    moves: tuple[SuspenseMove, ...] = ()


async def void_duplicates(uows: UnitOfWorkFactory, day: date, payments: PaymentsService) -> None:
    """Void (or refund) the duplicate daily charges of the period the reconcile stage lists,
    before it lists them, so each account-day ends charged once; each is recorded as a
    `duplicate` exception with its amount, resolved on the spot: nothing is left in suspense
    (a voided authorisation moved no money; a refunded one nets to nothing, so the reconcile
    stage leaves it and its refund out)."""
    async with uows() as uow:
        since = await uow.settlement.previous_gateway_until(day) or EPOCH
        prefix = f"{Side.PAYMENT}:gateway:"
        # The listing starts at the last one's timestamp, so it can list again a duplicate an
        # earlier run reported: that one is finance's, in suspense, and is left alone.
        reported = {
            key.removeprefix(prefix)
            for key in await uow.settlement.keys_reported_before(day, prefix)
        }
    handled = await payments.void_duplicate_charges(since, None, reported=reported)
    if not handled:
        return
    items = [
        StoredException(
            key=f"{Side.PAYMENT}:gateway:{d.payment_id}",
            kind=ExceptionKind.DUPLICATE,
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


async def handled_duplicates(uow: UnitOfWork, day: date) -> list[StoredException]:
    """The duplicates the charge stage of `day` voided or refunded (see `void_duplicates`)."""
    return [
        e
        for e in await uow.settlement.exceptions_first_seen(day)
        if e.kind is ExceptionKind.DUPLICATE and "action" in e.detail
    ]


async def reconcile_stage(
    uows: UnitOfWorkFactory,
    day: date,
    gateway: Gateway | None,
    clearing: str,
    vnpay: VNPayConfig | None = None,
) -> None:
    """Reconcile, store the exceptions, and post each one's suspense move to the ledger in
    the same transaction as the checkpoint (posting ids from the day and the exception),
    against the clearing account of the gateway that holds the money (VNPay's for a top-up
    through VNPay)."""
    until = uows.clock()
    found = await reconcile_period(uows, day, gateway, until, vnpay)

    async def record(uow: UnitOfWork) -> None:
        await uow.settlement.add_exceptions(_stored(e.line, day, day) for e in found.opened)
        await uow.settlement.update_exceptions(
            _stored(e.line, e.first_seen, day) for e in found.changed
        )
        await uow.ledger.post_many(
            [
                postings.suspense_move(
                    day,
                    move.key,
                    clearing=VNPAY_CLEARING if is_vnpay(move.key) else clearing,
                    amount=Money(move.amount, move.currency),
                    at=until,
                    reason=move.reason,
                )
                for move in found.moves
            ]
        )
        await uow.settlement.resolve_exceptions(found.figures.resolved, day)
        await uow.settlement.set_stage(
            day, Stage.RECONCILED, reconciled_until=until, reconciliation=found.figures
        )

    await run_in_uow(uows, record)


async def reconciled(uows: UnitOfWorkFactory, day: date) -> Reconciled:
    """What the reconcile stage of `day` recorded (it may have run in an earlier process)."""
    async with uows() as uow:
        record = await uow.settlement.day(day)
        still_open = await uow.settlement.open_exceptions()
    figures = None if record is None else record.reconciliation
    if figures is None:
        return Reconciled(figures=ReconciliationFigures(), open=())
    open_ = tuple(
        OpenException(line=_line(e), first_seen=e.first_seen)
        for e in still_open
        if e.kind.is_reconciliation and e.first_seen <= day
    )
    return Reconciled(
        figures=figures, open=open_, opened=tuple(o for o in open_ if o.first_seen == day)
    )


async def reconcile_period(
    uows: UnitOfWorkFactory,
    day: date,
    gateway: Gateway | None,
    until: datetime,
    vnpay: VNPayConfig | None = None,
) -> Reconciled:
    """Reconcile the ledger's records of the period since the previous run up to `until`
    (by the ledger's clock) with the gateway's (no writes; see `_list_gateway`)."""
    async with uows() as uow:
        since = await uow.settlement.previous_reconciled_until(day) or EPOCH
        gateway_since = await uow.settlement.previous_gateway_until(day) or EPOCH
        previous_stored = [
            e
            for e in await uow.settlement.open_exceptions()
            if e.kind.is_reconciliation and e.first_seen != day
        ]
        ledger_payments = await uow.reconciliation.ledger_payments(since, until)
        ledger_refunds = await uow.reconciliation.ledger_refunds(since, until)
        known_keys = await uow.reconciliation.known_charge_keys(since)
        handled = {e.detail["gateway_ref"] for e in await handled_duplicates(uow, day)}
    previous = tuple(OpenException(line=_line(e), first_seen=e.first_seen) for e in previous_stored)
    if gateway is None:
        return Reconciled(
            figures=ReconciliationFigures(previous=tuple(e.key for e in previous)), open=previous
        )
    # The records of open exceptions come back whatever their period, so that one fixed since
    # (the ledger corrected, the payment reached the gateway) is matched and leaves suspense.
    reopened = [e.line for e in previous if e.line.side is Side.PAYMENT]
    async with uows() as uow:
        seen_ids = {p.attempt_id for p in ledger_payments}
        ledger_payments = [
            *ledger_payments,
            *(
                p
                for p in await uow.reconciliation.ledger_payments_by_ids(
                    line.ledger_ref for line in reopened if line.ledger_ref is not None
                )
                if p.attempt_id not in seen_ids
            ),
        ]
    listing = await _list_gateway(
        uows, day, gateway, gateway_since, ledger_payments, ledger_refunds
    )
    listed = [p for p in listing.payments if p.id not in handled]
    listed_ids = {p.id for p in listing.payments}
    wanted = sorted(
        ref
        for ref in {line.gateway_ref for line in reopened if line.gateway_ref is not None}
        | {p.gateway_payment_id for p in ledger_payments if p.gateway_payment_id}
        if not is_vnpay(ref)
    )
    for payment_id in wanted:
        if payment_id not in listed_ids:
            try:
                listed.append(await gateway.retrieve_payment(payment_id))
            except GatewayRequestRejected:  # not found: it stays missing at the gateway
                continue
            listed_ids.add(payment_id)
    payments = [from_gateway_payment(p, service_day(p.created)) for p in listed]
    refunds = [
        from_gateway_refund(r, service_day(r.created))
        for r in listing.refunds
        if r.payment_id not in handled
    ]
    fees = gateway_fees(listing.transactions)
    if vnpay is not None:
        ledger_side, vnpay_side = await _vnpay_records(uows, vnpay, since, until, reopened)
        ledger_payments = [*ledger_payments, *ledger_side]
        payments = [*payments, *vnpay_side]
    result = reconcile(
        ledger_payments, ledger_refunds, payments, refunds, known_charge_keys=known_keys
    )
    roll = roll_suspense(previous, result, day)
    moves, changed = _suspense_moves(previous, roll)
    today_refs = frozenset(ref for line in result.lines for ref in line.refs)
    counted_before = sum(e.line.suspense for e in previous if e.line.refs & today_refs)
    cash = (
        sum(p.amount for p in payments if p.collected)
        - sum(r.amount for r in refunds if r.paid)
        - sum(p.amount for p in ledger_payments)
        + sum(r.amount for r in ledger_refunds)
        - counted_before
    )
    figures = ReconciliationFigures(
        counts={str(k): v for k, v in result.counts().items() if k is not Category.MATCHED},
        cash_difference=cash,
        fees=None if fees is None else sum(fees.values()),
        resolved=tuple(e.key for e in roll.resolved),
        previous=tuple(e.key for e in previous),
        suspense_moved=sum(roll.movement(previous).values()),
        gateway_until=listing.until or gateway_since,
    )
    return Reconciled(
        figures=figures, open=roll.open, opened=roll.opened, changed=changed, moves=moves
    )


def is_vnpay(ref: str) -> bool:
    """Whether an exception key or gateway id names a VNPay top-up (see `_vnpay_records`)."""
    return ref.startswith(VNPAY_PREFIX) or f":{VNPAY_PREFIX}" in ref


async def _vnpay_records(
    uows: UnitOfWorkFactory,
    config: VNPayConfig,
    since: datetime,
    until: datetime,
    reopened: Sequence[ReconLine],
) -> tuple[list[LedgerPayment], list[GatewayPaymentRecord]]:
    """VNPay top-ups on both sides, reconciled like card payments: the orders the ledger
    opened or settled in the period (and those of open exceptions), the paid ones as the
    ledger's payments, and what VNPay's transaction query says of each. VNPay has no listing,
    so a payment it took for an order we never opened cannot be seen here."""
    named = [
        ref.removeprefix(VNPAY_PREFIX)
        for line in reopened
        for ref in (line.gateway_ref, line.ledger_ref)
        if ref is not None and ref.startswith(VNPAY_PREFIX)
    ]
    async with uows() as uow:
        orders = await uow.reconciliation.vnpay_orders(since, until, txn_refs=named)
    ledger: list[LedgerPayment] = []
    gateway: list[GatewayPaymentRecord] = []
    async with httpx.AsyncClient(timeout=VNPAY_TIMEOUT) as client:
        for order in orders:
            ref = posting_attempt_id(order.txn_ref)
            if order.status is TopUpOrderStatus.PAID:
                ledger.append(
                    LedgerPayment(
                        attempt_id=ref,
                        charge_key=None,
                        amount=order.amount.amount,
                        currency=order.amount.currency,
                        gateway_payment_id=ref,
                        day=service_day(order.confirmed_at or order.created_at),
                    )
                )
            # A VNPayError (VNPay unreachable or refusing) fails the stage like any gateway's.
            found = await query_transaction(
                config, client, txn_ref=order.txn_ref, transaction_date=order.created_at, at=until
            )
            if found.found and found.amount_vnd:
                gateway.append(
                    GatewayPaymentRecord(
                        id=ref,
                        idempotency_key=None,
                        charge_key=None,
                        amount=found.amount_vnd,
                        currency="VND",
                        collected=found.paid,
                        day=service_day(order.created_at),
                    )
                )
    return ledger, gateway


@dataclass(frozen=True, slots=True, kw_only=True)
class _Listing:
    """What the gateway listed that this run reconciles, and the newest object it listed."""

    payments: list[Payment]
    refunds: list[Refund]
    transactions: list[BalanceTransaction] | None
    until: datetime | None


async def _list_gateway(
    uows: UnitOfWorkFactory,
    day: date,
    gateway: Gateway,
    since: datetime,
    ledger_payments: Sequence[LedgerPayment],
    ledger_refunds: Sequence[LedgerRefund],
) -> _Listing:
    """The gateway's objects from where the previous listing ended, by the gateway's own clock
    (which need not be the ledger's: the demo's server runs on a simulated day while
    localstripe stamps real time), less those another run reconciles.

    Records are matched by id, not by period: a gateway record the ledger holds outside this
    run's period is reconciled by the run whose period has it (there, retrieved by id if
    not listed); one an earlier run reported and that was resolved stays so. The listing
    starts at the newest object listed before (inclusive: the gateway's timestamps are whole
    seconds), so what it lists again falls under these two rules and is not counted twice.
    """
    payments = await gateway.list_payments(since, None)
    refunds = await gateway.list_refunds(since, None)
    transactions = await gateway.list_balance_transactions(since, None)
    until = max((o.created for o in (*payments, *refunds, *(transactions or ()))), default=None)
    async with uows() as uow:
        payments_held = await uow.reconciliation.ledger_payments_of(
            (p.id for p in payments), (p.idempotency_key for p in payments if p.idempotency_key)
        )
        refunds_held = await uow.reconciliation.ledger_refunds_of(
            (r.id for r in refunds), (r.idempotency_key for r in refunds if r.idempotency_key)
        )
        resolved = await uow.settlement.resolved_before(
            [
                *(f"{Side.PAYMENT}:gateway:{p.id}" for p in payments),
                *(f"{Side.REFUND}:gateway:{r.id}" for r in refunds),
            ],
            day,
        )
    here = {p.attempt_id for p in ledger_payments}
    elsewhere = [p for p in payments_held if p.attempt_id not in here]
    payment_ids = {p.gateway_payment_id for p in elsewhere if p.gateway_payment_id}
    payment_keys = {p.attempt_id for p in elsewhere if not p.gateway_payment_id}
    here = {r.refund_id for r in ledger_refunds}
    elsewhere_refunds = [r for r in refunds_held if r.refund_id not in here]
    refund_ids = {r.gateway_refund_id for r in elsewhere_refunds if r.gateway_refund_id}
    refund_keys = {r.refund_id for r in elsewhere_refunds if not r.gateway_refund_id}

    def other_runs(
        kind: Side, gateway_id: str, key: str | None, ids: set[str], keys: set[str]
    ) -> bool:
        return gateway_id in ids or key in keys or f"{kind}:gateway:{gateway_id}" in resolved

    kept_payments = [
        p
        for p in payments
        if not other_runs(Side.PAYMENT, p.id, p.idempotency_key, payment_ids, payment_keys)
    ]
    kept_refunds = [
        r
        for r in refunds
        if not other_runs(Side.REFUND, r.id, r.idempotency_key, refund_ids, refund_keys)
    ]
    # Fees belong to the run that reconciles their charge or refund. By id: a list's
    # membership test compares whole records, once per record listed.
    kept_ids = {p.id for p in kept_payments} | {r.id for r in kept_refunds}
    dropped = {p.charge_id for p in payments if p.id not in kept_ids} | {
        r.id for r in refunds if r.id not in kept_ids
    }
    return _Listing(
        payments=kept_payments,
        refunds=kept_refunds,
        transactions=None
        if transactions is None
        else [t for t in transactions if t.source_id is None or t.source_id not in dropped],
        until=until,
    )


def _stored(line: ReconLine, first_seen: date, as_of: date) -> StoredException:
    exception = OpenException(line=line, first_seen=first_seen)
    return StoredException(
        key=line.key,
        kind=ExceptionKind(line.category.value),
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


def _suspense_moves(
    previous: Sequence[OpenException], roll: SuspenseRoll
) -> tuple[tuple[SuspenseMove, ...], tuple[OpenException, ...]]:
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
            moves.append(SuspenseMove(exception.key, exception.line.currency, delta, reason))
    for exception in roll.resolved:
        if exception.line.suspense:
            moves.append(
                SuspenseMove(
                    exception.key, exception.line.currency, -exception.line.suspense, "resolved"
                )
            )
    return tuple(sorted(moves, key=lambda m: m.key)), tuple(changed)
