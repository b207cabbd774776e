"""VNPay top-ups (migration 0019_vnpay_orders): one row per order sent to VNPay, written before
the rider is redirected, and its outcome once VNPay's signed result (IPN or return) arrives."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import Base


class VNPayOrderRow(Base):
    """`status`: `pending` until VNPay's result, then `paid` or `failed` (never changed
    again); `transaction_no`, `bank_code`, `pay_date`, `response_code`: what VNPay said."""

    __tablename__ = "vnpay_orders"
    __table_args__ = (Index("ix_vnpay_orders_account", "account_id", "created_at"),)

    txn_ref: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    response_code: Mapped[str | None] = mapped_column(String(8))
    transaction_no: Mapped[str | None] = mapped_column(String(40))
    bank_code: Mapped[str | None] = mapped_column(String(20))
    pay_date: Mapped[str | None] = mapped_column(String(14))
