"""Matching the ledger's payment records against the gateway's own, and the suspense they leave.

Inputs are plain records: what the ledger believes was collected and refunded (our attempt and
refund ids, amounts, the gateway ids we recorded, charge keys) and what the gateway listed for
the period (`from_gateway_payment` / `from_gateway_refund` read the adapter's objects).

Categories (docs/SETTLEMENT.md §Reconciliation), each line carrying both sides' amounts:

- matched: the same payment or refund on both sides, same amount and currency;
- missing_at_gateway: the ledger has money the gateway never collected (or refunded);
- unknown_at_gateway: the gateway collected a payment the ledger does not know;
- amount_mismatch: both know it, the amounts differ;
- duplicate: the gateway collected a second payment for a charge key the ledger already holds
  (a retry that raced a slow first request);
- refund: the gateway refunded money the ledger never recorded refunding.

Only money that moved counts: a failed or cancelled gateway payment matches nothing. A record
is matched by the gateway id the ledger holds, else by our idempotency key in the metadata.

`suspense` is signed from the ledger's point of view: money the gateway holds that the ledger
has not attributed is positive (owed to someone until resolved), money the ledger counts that
the gateway does not have is negative.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from gateways.protocol import (
    CHARGE_KEY_METADATA_KEY,
    BalanceTransaction,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from ticketing.settlement.errors import InvalidSettlementInput


class Category(enum.StrEnum):
    MATCHED = "matched"
    MISSING_AT_GATEWAY = "missing_at_gateway"
    UNKNOWN_AT_GATEWAY = "unknown_at_gateway"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE = "duplicate"
    REFUND = "refund"


EXCEPTION_CATEGORIES = tuple(c for c in Category if c is not Category.MATCHED)


class Side(enum.StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerPayment:
    """A payment the ledger recorded as collected (a succeeded attempt)."""

    attempt_id: str
    charge_key: str | None
    amount: int
    currency: str
    gateway_payment_id: str | None
    day: date


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRefund:
    """A refund the ledger recorded as paid back."""

    refund_id: str
    attempt_id: str
    amount: int
    currency: str
    gateway_refund_id: str | None
    day: date


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayPaymentRecord:
    id: str
    idempotency_key: str | None
    charge_key: str | None
    amount: int
    currency: str
    collected: bool
    day: date


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayRefundRecord:
    id: str
    payment_id: str | None
    idempotency_key: str | None
    amount: int
    currency: str
    paid: bool
    day: date


def from_gateway_payment(payment: Payment, day: date) -> GatewayPaymentRecord:
    """The gateway's payment as reconciliation reads it; `day` is its created service day."""
    return GatewayPaymentRecord(
        id=payment.id,
        idempotency_key=payment.idempotency_key,
        charge_key=payment.metadata.get(CHARGE_KEY_METADATA_KEY, payment.idempotency_key),
        amount=payment.amount,
        currency=payment.currency,
        collected=payment.status is PaymentStatus.SUCCEEDED,
        day=day,
    )


def from_gateway_refund(refund: Refund, day: date) -> GatewayRefundRecord:
    return GatewayRefundRecord(
        id=refund.id,
        payment_id=refund.payment_id,
        idempotency_key=refund.idempotency_key,
        amount=refund.amount,
        currency=refund.currency,
        paid=refund.status is RefundStatus.SUCCEEDED,
        day=day,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconLine:
    """One reconciled item: both sides' references and amounts (None: absent on that side)."""

    category: Category
    side: Side
    currency: str
    ledger_ref: str | None
    gateway_ref: str | None
    charge_key: str | None
    ledger_amount: int | None
    gateway_amount: int | None
    day: date

    @property
    def key(self) -> str:
        """Identifies the item across runs: the gateway's id if it has one, else ours."""
        if self.gateway_ref is not None:
            return f"{self.side}:gateway:{self.gateway_ref}"
        return f"{self.side}:ledger:{self.ledger_ref}"

    @property
    def refs(self) -> frozenset[str]:
        refs = set()
        if self.gateway_ref is not None:
            refs.add(f"{self.side}:gateway:{self.gateway_ref}")
        if self.ledger_ref is not None:
            refs.add(f"{self.side}:ledger:{self.ledger_ref}")
        return frozenset(refs)

    @property
    def suspense(self) -> int:
        """Signed: what the gateway holds beyond what the ledger counts for this item."""
        if self.category is Category.MATCHED:
            return 0
        held = (self.gateway_amount or 0) - (self.ledger_amount or 0)
        return held if self.side is Side.PAYMENT else -held

    @property
    def amount(self) -> int:
        """The exception's size: the money in question, whatever its direction."""
        return abs(self.suspense)

    def age(self, as_of: date) -> int:
        """Days since the record, as of `as_of` (a settled service day)."""
        return (as_of - self.day).days


@dataclass(frozen=True, slots=True)
class Reconciliation:
    lines: tuple[ReconLine, ...]

    @property
    def exceptions(self) -> tuple[ReconLine, ...]:
        return tuple(line for line in self.lines if line.category is not Category.MATCHED)

    def counts(self) -> dict[Category, int]:
        counts = dict.fromkeys(Category, 0)
        for line in self.lines:
            counts[line.category] += 1
        return counts

    def suspense(self) -> dict[str, int]:
        """Net suspense of this run's exceptions, per currency."""
        return _suspense_by_currency(self.exceptions)


def reconcile(
    ledger_payments: Iterable[LedgerPayment],
    ledger_refunds: Iterable[LedgerRefund],
    gateway_payments: Iterable[GatewayPaymentRecord],
    gateway_refunds: Iterable[GatewayRefundRecord],
    *,
    known_charge_keys: Iterable[str] = (),
) -> Reconciliation:
    """Every record of both sides in exactly one line (see the module docstring).

    `known_charge_keys`: charge keys the ledger collected in earlier runs, so that a late
    duplicate of an already reconciled charge is reported as a duplicate, not as unknown.
    """
    lines = [
        *_payment_lines(list(ledger_payments), list(gateway_payments), set(known_charge_keys)),
        *_refund_lines(list(ledger_refunds), list(gateway_refunds)),
    ]
    return Reconciliation(tuple(sorted(lines, key=_line_order)))


def _payment_lines(
    ledger: list[LedgerPayment], gateway: list[GatewayPaymentRecord], ledger_keys: set[str]
) -> list[ReconLine]:
    _unique((p.attempt_id for p in ledger), "ledger payment")
    by_id = {g.id: g for g in gateway}
    _unique((g.id for g in gateway), "gateway payment")
    by_key: dict[str, list[GatewayPaymentRecord]] = defaultdict(list)
    for record in sorted(gateway, key=lambda g: (g.day, g.id)):
        if record.collected and record.idempotency_key is not None:
            by_key[record.idempotency_key].append(record)
    taken: set[str] = set()
    lines = []
    for mine in sorted(ledger, key=lambda p: p.attempt_id):
        _check(mine.amount, mine.attempt_id)
        ledger_keys.update(k for k in (mine.attempt_id, mine.charge_key) if k is not None)
        theirs = by_id.get(mine.gateway_payment_id) if mine.gateway_payment_id else None
        if theirs is None:
            theirs = next((g for g in by_key[mine.attempt_id] if g.id not in taken), None)
        if theirs is None or not theirs.collected or theirs.id in taken:
            lines.append(_ledger_only(mine))
            continue
        taken.add(theirs.id)
        lines.extend(_both(mine, theirs))
    for theirs in gateway:
        if theirs.id in taken or not theirs.collected:
            continue
        _check(theirs.amount, theirs.id)
        known = {k for k in (theirs.charge_key, theirs.idempotency_key) if k is not None}
        lines.append(
            ReconLine(
                category=Category.DUPLICATE if known & ledger_keys else Category.UNKNOWN_AT_GATEWAY,
                side=Side.PAYMENT,
                currency=theirs.currency,
                ledger_ref=None,
                gateway_ref=theirs.id,
                charge_key=theirs.charge_key,
                ledger_amount=None,
                gateway_amount=theirs.amount,
                day=theirs.day,
            )
        )
    return lines


def _ledger_only(mine: LedgerPayment) -> ReconLine:
    return ReconLine(
        category=Category.MISSING_AT_GATEWAY,
        side=Side.PAYMENT,
        currency=mine.currency,
        ledger_ref=mine.attempt_id,
        gateway_ref=None,
        charge_key=mine.charge_key,
        ledger_amount=mine.amount,
        gateway_amount=None,
        day=mine.day,
    )


def _both(mine: LedgerPayment, theirs: GatewayPaymentRecord) -> list[ReconLine]:
    _check(theirs.amount, theirs.id)
    line = ReconLine(
        category=Category.MATCHED,
        side=Side.PAYMENT,
        currency=mine.currency,
        ledger_ref=mine.attempt_id,
        gateway_ref=theirs.id,
        charge_key=mine.charge_key,
        ledger_amount=mine.amount,
        gateway_amount=theirs.amount,
        day=min(mine.day, theirs.day),
    )
    if theirs.currency != mine.currency:
        # Amounts in two currencies cannot be netted: each side is an exception of its own.
        return [
            replace(
                line, category=Category.MISSING_AT_GATEWAY, gateway_ref=None, gateway_amount=None
            ),
            replace(
                line,
                category=Category.UNKNOWN_AT_GATEWAY,
                currency=theirs.currency,
                ledger_ref=None,
                ledger_amount=None,
            ),
        ]
    if theirs.amount != mine.amount:
        return [replace(line, category=Category.AMOUNT_MISMATCH)]
    return [line]


def _refund_lines(
    ledger: list[LedgerRefund], gateway: list[GatewayRefundRecord]
) -> list[ReconLine]:
    _unique((r.refund_id for r in ledger), "ledger refund")
    _unique((g.id for g in gateway), "gateway refund")
    paid = sorted((g for g in gateway if g.paid), key=lambda g: (g.day, g.id))
    by_id = {g.id: g for g in paid}
    taken: set[str] = set()
    lines = []
    for mine in sorted(ledger, key=lambda r: r.refund_id):
        _check(mine.amount, mine.refund_id)
        theirs = by_id.get(mine.gateway_refund_id) if mine.gateway_refund_id else None
        if theirs is None:
            theirs = next(
                (g for g in paid if g.idempotency_key == mine.refund_id and g.id not in taken),
                None,
            )
        line = ReconLine(
            category=Category.MATCHED,
            side=Side.REFUND,
            currency=mine.currency,
            ledger_ref=mine.refund_id,
            gateway_ref=None,
            charge_key=mine.attempt_id,
            ledger_amount=mine.amount,
            gateway_amount=None,
            day=mine.day,
        )
        if theirs is None or theirs.id in taken or theirs.currency != mine.currency:
            lines.append(replace(line, category=Category.MISSING_AT_GATEWAY))
            continue
        taken.add(theirs.id)
        _check(theirs.amount, theirs.id)
        category = Category.MATCHED if theirs.amount == mine.amount else Category.AMOUNT_MISMATCH
        lines.append(
            replace(
                line,
                category=category,
                gateway_ref=theirs.id,
                gateway_amount=theirs.amount,
                day=min(mine.day, theirs.day),
            )
        )
    for theirs in paid:
        if theirs.id in taken:
            continue
        _check(theirs.amount, theirs.id)
        lines.append(
            ReconLine(
                category=Category.REFUND,
                side=Side.REFUND,
                currency=theirs.currency,
                ledger_ref=None,
                gateway_ref=theirs.id,
                charge_key=theirs.payment_id,
                ledger_amount=None,
                gateway_amount=theirs.amount,
                day=theirs.day,
            )
        )
    return lines


def gateway_fees(transactions: Iterable[BalanceTransaction] | None) -> dict[str, int] | None:
    """The gateway's fees per currency for the period, from its balance transactions.

    None when the gateway keeps no balance ledger: fees are then unknown, not zero. A fee
    given back (on some refunds) is a negative fee and nets off.
    """
    if transactions is None:
        return None
    fees: dict[str, int] = defaultdict(int)
    for txn in transactions:
        fees[txn.currency] += txn.fee
    return dict(sorted(fees.items()))


# -- suspense across runs --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenException:
    """An exception still in suspense, with the service day it was first reported."""

    line: ReconLine
    first_seen: date

    @property
    def key(self) -> str:
        return self.line.key


@dataclass(frozen=True, slots=True, kw_only=True)
class SuspenseRoll:
    """Suspense after a run: what it opened, carried over, and resolved."""

    as_of: date
    opened: tuple[OpenException, ...]
    carried: tuple[OpenException, ...]
    resolved: tuple[OpenException, ...]

    @property
    def open(self) -> tuple[OpenException, ...]:
        return tuple(sorted((*self.carried, *self.opened), key=lambda e: _line_order(e.line)))

    def balance(self) -> dict[str, int]:
        """Suspense per currency after the run: the sum of what is still open."""
        return _suspense_by_currency(e.line for e in self.open)

    def movement(self, previous: Iterable[OpenException]) -> dict[str, int]:
        """What the run posts to suspense: the new balance less the previous one."""
        before = _suspense_by_currency(e.line for e in previous)
        after = self.balance()
        return {
            currency: after.get(currency, 0) - before.get(currency, 0)
            for currency in sorted(set(before) | set(after))
        }


def roll_suspense(
    previous_open: Iterable[OpenException],
    today: Reconciliation,
    as_of: date,
    *,
    settled_keys: Iterable[str] = (),
) -> SuspenseRoll:
    """Suspense after today's run, from what was open before and today's reconciliation.

    A previous exception leaves suspense when today's run matched its record (e.g. the
    missing payment reached the gateway's listing, or the ledger learned of the unknown one)
    or when finance settled it (`settled_keys`: a duplicate refunded, a write-off); one
    reported again stays open with its first day and today's figures. Nothing else leaves.
    """
    previous = list(previous_open)
    matched_refs = {
        ref for line in today.lines if line.category is Category.MATCHED for ref in line.refs
    }
    settled = set(settled_keys)
    today_by_key = {line.key: line for line in today.exceptions}
    carried, resolved = [], []
    for exception in previous:
        if exception.key in settled or exception.line.refs & matched_refs:
            resolved.append(exception)
        else:
            current = today_by_key.pop(exception.key, exception.line)
            carried.append(replace(exception, line=current))
    opened = [
        OpenException(line=line, first_seen=as_of)
        for key, line in today_by_key.items()
        if key not in settled
    ]
    return SuspenseRoll(
        as_of=as_of, opened=tuple(opened), carried=tuple(carried), resolved=tuple(resolved)
    )


def _suspense_by_currency(lines: Iterable[ReconLine]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.currency] += line.suspense
    return dict(sorted(totals.items()))


def _line_order(line: ReconLine) -> tuple[int, str, date, str, str]:
    return (
        list(Category).index(line.category),
        line.side.value,
        line.day,
        line.gateway_ref or "",
        line.ledger_ref or "",
    )


def _unique(ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for record_id in ids:
        if record_id in seen:
            raise InvalidSettlementInput(f"{what} {record_id!r} is listed twice")
        seen.add(record_id)


def _check(amount: int, ref: str) -> None:
    if type(amount) is not int or amount <= 0:
        raise InvalidSettlementInput(f"{ref!r} has amount {amount!r}: must be a positive int")
