"""VNPay top-up orders (`vnpay_orders`): written before the rider leaves for VNPay, settled
once by VNPay's first signed result (a conditional update: a second IPN, or the return after
the IPN, finds it settled and changes nothing)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.vnpay_models import VNPayOrderRow
from ticketing.money import Money
from ticketing.payments.model import TopUpOrder, TopUpOrderStatus


def top_up_order(row: VNPayOrderRow) -> TopUpOrder:
    return TopUpOrder(
        row.txn_ref,
        row.account_id,
        Money(row.amount, row.currency),
        TopUpOrderStatus(row.status),
        row.created_at,
        row.confirmed_at,
        row.response_code,
        row.transaction_no,
    )


class VNPayOrders:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, order: TopUpOrder) -> None:
        self._session.add(
            VNPayOrderRow(
                txn_ref=order.txn_ref,
                account_id=order.account_id,
                amount=order.amount.amount,
                currency=order.amount.currency,
                status=order.status.value,
                created_at=order.created_at,
            )
        )
        await self._session.flush()

    async def find(self, txn_ref: str) -> TopUpOrder | None:
        row = await self._session.get(VNPayOrderRow, txn_ref, populate_existing=True)
        return None if row is None else top_up_order(row)

    async def settle(
        self,
        txn_ref: str,
        *,
        paid: bool,
        response_code: str,
        transaction_no: str,
        bank_code: str,
        pay_date: str,
        at: datetime,
    ) -> bool:
        """Record VNPay's result if the order is still pending; False if it was settled."""
        done = await self._session.execute(
            update(VNPayOrderRow)
            .where(
                VNPayOrderRow.txn_ref == txn_ref,
                VNPayOrderRow.status == TopUpOrderStatus.PENDING.value,
            )
            .values(
                status=(TopUpOrderStatus.PAID if paid else TopUpOrderStatus.FAILED).value,
                confirmed_at=at,
                response_code=response_code[:8],
                transaction_no=transaction_no[:40],
                bank_code=bank_code[:20],
                pay_date=pay_date[:14],
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(done, "rowcount", 0))

    async def of_account(self, account_id: str, *, limit: int) -> list[TopUpOrder]:
        rows = await self._session.scalars(
            select(VNPayOrderRow)
            .where(VNPayOrderRow.account_id == account_id)
            .order_by(VNPayOrderRow.created_at.desc())
            .limit(limit)
        )
        return [top_up_order(row) for row in rows]
