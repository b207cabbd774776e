"""Topping up the wallet through VNPay, the way Vietnamese riders pay: the order is recorded,
the rider is redirected to VNPay with a signed payment URL (`gateways.vnpay`), and VNPay's
signed result arrives twice, by its server-to-server IPN and on the rider's way back (the
return URL), in either order and the IPN possibly more than once.

Whichever result comes first settles the order (a conditional update of the pending order)
and, if paid, credits the wallet from VNPay's clearing account (`gateway:vnpay:clearing`) in
the same transaction; every later one finds it settled and changes nothing. So the wallet is
credited exactly once. A result whose signature is not VNPay's is refused and changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from gateways.errors import VNPayError
from gateways.vnpay import (
    VNPayConfig,
    VNPayOrder,
    VNPayPaymentResult,
    build_payment_url,
    read_return,
)
from ticketing.clock import Clock
from ticketing.errors import UnknownRecord
from ticketing.ledger import accounts
from ticketing.ledger.errors import PostingConflict
from ticketing.money import Money
from ticketing.payments.errors import NoWallet, VNPayResultRefused
from ticketing.payments.model import PaymentPurpose, TopUpOrder, TopUpOrderStatus
from ticketing.postings import payment_received
from ticketing.riders import PaymentMode
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

VNPAY = "vnpay"  # the gateway's name: its ledger clearing account is gateway:vnpay:clearing
LISTED = 20


def new_txn_ref() -> str:
    """An order reference VNPay accepts (alphanumeric) and nobody can guess."""
    return "fg" + secrets.token_hex(10)


def posting_attempt_id(txn_ref: str) -> str:
    return f"vnpay:{txn_ref}"


@dataclass(frozen=True, slots=True)
class StartedTopUp:
    order: TopUpOrder
    pay_url: str


async def start_top_up(
    uows: UnitOfWorkFactory,
    config: VNPayConfig,
    account_id: str,
    amount: int,
    *,
    ip_addr: str,
    at: datetime,
) -> StartedTopUp:
    """Record a pending order of `amount` (whole dong) for the account's wallet and sign the
    URL that sends the rider to VNPay. NoWallet for a postpaid account."""

    async def start(uow: UnitOfWork) -> TopUpOrder:
        account = await uow.riders.get_account(account_id)
        if account.payment_mode is not PaymentMode.PREPAID_WALLET:
            raise NoWallet("a postpaid account has no wallet to top up")
        order = TopUpOrder(
            new_txn_ref(), account_id, Money(amount, account.currency),
            TopUpOrderStatus.PENDING, at,
        )  # fmt: skip
        await uow.vnpay.add(order)
        return order

    order = await run_in_uow(uows, start)
    url = build_payment_url(
        config,
        txn_ref=order.txn_ref,
        amount_vnd=amount,
        order_info=f"Nap tien vi Faregate {order.txn_ref}",  # VNPay asks for no diacritics
        ip_addr=ip_addr,
        at=at,
    )
    return StartedTopUp(order, url)


class TopUpOrders:
    """Our orders as `gateways.vnpay.handle_ipn` reads and settles them (its VNPayOrderStore)."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    async def get_order(self, txn_ref: str) -> VNPayOrder | None:
        async with self._uows() as uow:
            order = await uow.vnpay.find(txn_ref[:40])
        if order is None:
            return None
        return VNPayOrder(
            order.txn_ref, order.amount.amount, order.status is not TopUpOrderStatus.PENDING
        )

    async def confirm_order(self, result: VNPayPaymentResult) -> bool:
        """Settle the order with VNPay's result and credit the wallet if paid, once: False if
        another result settled it first."""
        at = self._clock()

        async def confirm(uow: UnitOfWork) -> bool:
            settled = await uow.vnpay.settle(
                result.txn_ref, paid=result.paid, response_code=result.response_code,
                transaction_no=result.transaction_no, bank_code=result.bank_code,
                pay_date=result.pay_date, at=at,
            )  # fmt: skip
            if not settled:
                return False
            order = await uow.vnpay.find(result.txn_ref)
            if result.paid and order is not None:
                await uow.ledger.post(
                    payment_received(
                        posting_attempt_id(order.txn_ref),
                        clearing=accounts.gateway_clearing(VNPAY),
                        paid_account=accounts.wallet(order.account_id),
                        account_id=order.account_id,
                        amount=order.amount,
                        gateway_payment_id=result.transaction_no or order.txn_ref,
                        purpose=PaymentPurpose.TOP_UP.value,
                        at=at,
                    )
                )
            return True

        try:
            return await run_in_uow(self._uows, confirm)
        except PostingConflict:  # the other result's transaction posted it first
            return False


async def settle_return(
    uows: UnitOfWorkFactory,
    config: VNPayConfig,
    account_id: str,
    query: dict[str, str],
    *,
    clock: Clock,
) -> TopUpOrder:
    """The rider back from VNPay: check the result's signature, settle the order with it if
    no IPN did yet, and say where it stands. VNPayResultRefused for a result that is not
    VNPay's or not this account's order."""
    try:
        result = read_return(query, config=config)
    except VNPayError as error:
        raise VNPayResultRefused(str(error)) from error
    orders = TopUpOrders(uows, clock)
    known = await orders.get_order(result.txn_ref)
    if known is None or (await top_up_order(uows, account_id, result.txn_ref)) is None:
        raise VNPayResultRefused(f"no VNPay top-up {result.txn_ref[:40]!r} on this account")
    if result.amount_vnd != known.amount_vnd:
        raise VNPayResultRefused(
            f"VNPay's result is for {result.amount_vnd} VND, the order for {known.amount_vnd}"
        )
    if not known.confirmed:
        await orders.confirm_order(result)
    order = await top_up_order(uows, account_id, result.txn_ref)
    assert order is not None  # orders are never deleted
    return order


async def top_up_order(uows: UnitOfWorkFactory, account_id: str, txn_ref: str) -> TopUpOrder | None:
    """The account's order `txn_ref` (None: no such order of this account)."""
    async with uows() as uow:
        order = await uow.vnpay.find(txn_ref[:40])
    return order if order is not None and order.account_id == account_id else None


async def top_up_status(uows: UnitOfWorkFactory, account_id: str, txn_ref: str) -> TopUpOrder:
    order = await top_up_order(uows, account_id, txn_ref)
    if order is None:
        raise UnknownRecord(f"no VNPay top-up {txn_ref[:40]!r} on this account")
    return order
