"""The ledger's side of reconciliation: the payments and refunds it believes collected and
paid back, the charge keys it knows, and its balances (what suspense a run moved, the trial
balance). The gateway's side is the gateway's own listings (`services.settlement_reconcile`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from ticketing.db.dialect import chunks
from ticketing.db.models import EntryRow, table_of
from ticketing.db.payments_models import PaymentAttemptRow, PaymentRefundRow
from ticketing.db.vnpay_models import VNPayOrderRow
from ticketing.payments.model import AttemptStatus, RefundRecordStatus, TopUpOrder
from ticketing.postings import RECONCILIATION_SUSPENSE, suspense_move_id
from ticketing.service_day import service_day
from ticketing.settlement.reconcile import LedgerPayment, LedgerRefund
from ticketing.stores.vnpay import top_up_order

ENTRIES = table_of(EntryRow)
ATTEMPTS = table_of(PaymentAttemptRow)
ORDERS = table_of(VNPayOrderRow)
REFUNDS = table_of(PaymentRefundRow)
COLLECTED_STATUSES = (AttemptStatus.SUCCEEDED.value, AttemptStatus.RECOVERED.value)


T = TypeVar("T")


async def _matching(
    fetch: Callable[[ColumnElement[bool]], Awaitable[list[T]]],
    key: Callable[[T], str],
    *lookups: tuple[ColumnElement[str | None], Iterable[str]],
) -> list[T]:
    """What `fetch` finds whose column (of any lookup) is one of that lookup's ids, each once,
    in `key` order: the ledger's records of what the gateway listed, by the gateway's id or by
    ours."""
    found: dict[str, T] = {}
    for column, ids in lookups:
        for part in chunks(sorted(set(ids))):  # bound parameters per statement
            found.update((key(record), record) for record in await fetch(column.in_(part)))
    return [found[k] for k in sorted(found)]


class ReconciliationInputs:
    """The ledger's records and balances that reconciliation and the controls read."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def ledger_payments(self, start: datetime, end: datetime) -> list[LedgerPayment]:
        """The attempts created in [start, end) that the ledger counts as collected."""
        return await self._succeeded_attempts(
            ATTEMPTS.c.created_at >= start, ATTEMPTS.c.created_at < end
        )

    async def ledger_payments_by_ids(self, ids: Iterable[str]) -> list[LedgerPayment]:
        """Collected attempts by id, whatever their period (records of open exceptions)."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        return await self._succeeded_attempts(ATTEMPTS.c.id.in_(wanted))

    async def ledger_payments_of(
        self, gateway_ids: Iterable[str], attempt_ids: Iterable[str]
    ) -> list[LedgerPayment]:
        """Collected attempts, whatever their period, that recorded one of the gateway's
        payment ids or whose id is one of `attempt_ids` (our idempotency keys at the gateway):
        the ledger's records of payments the gateway listed."""
        return await _matching(
            self._succeeded_attempts,
            lambda payment: payment.attempt_id,
            (ATTEMPTS.c.gateway_payment_id, gateway_ids),
            (ATTEMPTS.c.id, attempt_ids),
        )

    async def _succeeded_attempts(self, *where: ColumnElement[bool]) -> list[LedgerPayment]:
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
        return [
            LedgerPayment(
                attempt_id=row.id,
                charge_key=row.charge_key,
                amount=int(row.amount),
                currency=row.currency,
                gateway_payment_id=row.gateway_payment_id,
                day=row.service_day or service_day(row.created_at),
            )
            for row in rows
        ]

    async def ledger_refunds(self, start: datetime, end: datetime) -> list[LedgerRefund]:
        """The refunds created in [start, end) that the ledger counts as paid back."""
        return await self._succeeded_refunds(
            REFUNDS.c.created_at >= start, REFUNDS.c.created_at < end
        )

    async def ledger_refunds_of(
        self, gateway_ids: Iterable[str], refund_ids: Iterable[str]
    ) -> list[LedgerRefund]:
        """Paid-back refunds, whatever their period, that recorded one of the gateway's refund
        ids or whose id is one of `refund_ids` (our idempotency keys at the gateway)."""
        return await _matching(
            self._succeeded_refunds,
            lambda refund: refund.refund_id,
            (REFUNDS.c.gateway_refund_id, gateway_ids),
            (REFUNDS.c.id, refund_ids),
        )

    async def _succeeded_refunds(self, *where: ColumnElement[bool]) -> list[LedgerRefund]:
        rows = await self._session.execute(
            select(
                REFUNDS.c.id,
                REFUNDS.c.attempt_id,
                REFUNDS.c.amount,
                REFUNDS.c.currency,
                REFUNDS.c.gateway_refund_id,
                REFUNDS.c.created_at,
            )
            .where(REFUNDS.c.status == RefundRecordStatus.SUCCEEDED.value, *where)
            .order_by(REFUNDS.c.id)
        )
        return [
            LedgerRefund(
                refund_id=row.id,
                attempt_id=row.attempt_id,
                amount=int(row.amount),
                currency=row.currency,
                gateway_refund_id=row.gateway_refund_id,
                day=service_day(row.created_at),
            )
            for row in rows
        ]

    async def vnpay_orders(
        self, start: datetime, end: datetime, *, txn_refs: Iterable[str] = ()
    ) -> list[TopUpOrder]:
        """VNPay top-up orders opened or settled in [start, end), and those named (the orders
        of open exceptions), whatever their status: what VNPay is asked about."""
        in_period = or_(
            (ORDERS.c.created_at >= start) & (ORDERS.c.created_at < end),
            (ORDERS.c.confirmed_at >= start) & (ORDERS.c.confirmed_at < end),
        )
        named = sorted(set(txn_refs))
        rows = await self._session.execute(
            select(VNPayOrderRow)
            .where(or_(in_period, VNPayOrderRow.txn_ref.in_(named)) if named else in_period)
            .order_by(VNPayOrderRow.txn_ref)
        )
        return [top_up_order(row) for row in rows.scalars()]

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
