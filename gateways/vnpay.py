"""VNPay adapter (API 2.1.0): the redirect payment URL, the IPN callback, and the transaction
query (`querydr`) reconciliation reads.

VNPay signs with `vnp_SecureHash` = hex HMAC-SHA512, keyed by the merchant's hash secret, over
the `vnp_*` parameters other than `vnp_SecureHash`/`vnp_SecureHashType`, sorted by name and
joined as `name=value&...` with each value URL-encoded (form encoding: space → `+`).
`vnp_Amount` is VND × 100 (VNPay's format has two implied decimals even though VND has none).
Dates are `yyyyMMddHHmmss` in Vietnam time (GMT+7).

The IPN (server-to-server confirmation) is answered with JSON `{"RspCode", "Message"}`; VNPay
retries until it gets an answer, so a repeated IPN must be recognised (`02`). The order lookups
go through `VNPayOrderStore`, which the ticketing side implements: this module has no database.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

import httpx

from gateways.errors import VNPayError

VNPAY_VERSION = "2.1.0"
VNPAY_TIME_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SANDBOX_PAY_URL = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"
SANDBOX_API_URL = "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction"
AMOUNT_SCALE = 100
_MAX_AMOUNT_DIGITS = 12  # vnp_Amount is Numeric[1,12]
_HASH_FIELDS_EXCLUDED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})
SUCCESS_CODE = "00"

_log = logging.getLogger(__name__)


def encode_amount(vnd: int) -> str:
    """`vnp_Amount` for a whole-dong amount."""
    if type(vnd) is not int or vnd <= 0:
        raise VNPayError(f"amount must be a positive int of VND, not {vnd!r}")
    encoded = str(vnd * AMOUNT_SCALE)
    if len(encoded) > _MAX_AMOUNT_DIGITS:
        raise VNPayError(f"amount {vnd} VND exceeds what vnp_Amount can carry")
    return encoded


def decode_amount(raw: str) -> int:
    """Whole dong from `vnp_Amount`; refuses anything but digits with a zero fractional part."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_AMOUNT_DIGITS:
        raise VNPayError(f"malformed vnp_Amount {raw!r}")
    value = int(raw)
    if value % AMOUNT_SCALE:
        raise VNPayError(f"vnp_Amount {raw!r} is not a whole number of VND")
    return value // AMOUNT_SCALE


def hash_data(params: Mapping[str, str]) -> str:
    """The string VNPay signs: sorted `vnp_*` fields (empty ones left out), values URL-encoded."""
    fields = sorted(
        (key, value)
        for key, value in params.items()
        if key.startswith("vnp_") and key not in _HASH_FIELDS_EXCLUDED and value != ""
    )
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in fields)


def secure_hash(params: Mapping[str, str], hash_secret: str) -> str:
    return hmac.new(
        hash_secret.encode("utf-8"), hash_data(params).encode("utf-8"), hashlib.sha512
    ).hexdigest()


def signature_is_valid(params: Mapping[str, str], hash_secret: str) -> bool:
    received = params.get("vnp_SecureHash", "")
    return hmac.compare_digest(secure_hash(params, hash_secret), received.lower())


def format_vnpay_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise VNPayError("VNPay times must be timezone-aware")
    return at.astimezone(VNPAY_TIME_ZONE).strftime("%Y%m%d%H%M%S")


@dataclass(frozen=True, slots=True)
class VNPayConfig:
    """The merchant's terminal code and hash secret, and where VNPay sends the rider back."""

    tmn_code: str
    hash_secret: str
    return_url: str
    pay_url: str = SANDBOX_PAY_URL
    api_url: str = SANDBOX_API_URL  # the merchant web API (querydr)
    locale: str = "vn"
    expire_after: timedelta = timedelta(minutes=15)


def build_payment_url(
    config: VNPayConfig,
    *,
    txn_ref: str,
    amount_vnd: int,
    order_info: str,
    ip_addr: str,
    at: datetime,
    order_type: str = "other",
    bank_code: str | None = None,
) -> str:
    """The URL to redirect the rider to for paying `amount_vnd` on order `txn_ref`."""
    params = {
        "vnp_Version": VNPAY_VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": config.tmn_code,
        "vnp_Amount": encode_amount(amount_vnd),
        "vnp_CurrCode": "VND",
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": order_info,
        "vnp_OrderType": order_type,
        "vnp_Locale": config.locale,
        "vnp_ReturnUrl": config.return_url,
        "vnp_IpAddr": ip_addr,
        "vnp_CreateDate": format_vnpay_time(at),
        "vnp_ExpireDate": format_vnpay_time(at + config.expire_after),
    }
    if bank_code:
        params["vnp_BankCode"] = bank_code
    query = hash_data(params)
    signature = secure_hash(params, config.hash_secret)
    return f"{config.pay_url}?{query}&{urlencode({'vnp_SecureHash': signature})}"


# -- IPN -------------------------------------------------------------------------------------


class IpnCode(enum.StrEnum):
    CONFIRMED = "00"
    ORDER_NOT_FOUND = "01"
    ALREADY_CONFIRMED = "02"
    INVALID_AMOUNT = "04"
    INVALID_CHECKSUM = "97"
    UNKNOWN_ERROR = "99"


_IPN_MESSAGES: Mapping[IpnCode, str] = {
    IpnCode.CONFIRMED: "Confirm Success",
    IpnCode.ORDER_NOT_FOUND: "Order not found",
    IpnCode.ALREADY_CONFIRMED: "Order already confirmed",
    IpnCode.INVALID_AMOUNT: "Invalid amount",
    IpnCode.INVALID_CHECKSUM: "Invalid Checksum",
    IpnCode.UNKNOWN_ERROR: "Unknown error",
}


@dataclass(frozen=True, slots=True)
class VNPayOrder:
    txn_ref: str
    amount_vnd: int
    confirmed: bool


@dataclass(frozen=True, slots=True)
class VNPayPaymentResult:
    """What a verified IPN says happened to the order."""

    txn_ref: str
    amount_vnd: int
    paid: bool
    response_code: str
    transaction_no: str
    bank_code: str
    pay_date: str


class VNPayOrderStore(Protocol):
    """Our side's orders, as the IPN handler needs them."""

    async def get_order(self, txn_ref: str) -> VNPayOrder | None: ...

    async def confirm_order(self, result: VNPayPaymentResult) -> bool:
        """Record the outcome once; False if the order was already confirmed (a repeat IPN)."""
        ...


@dataclass(frozen=True, slots=True)
class IpnAnswer:
    code: IpnCode
    result: VNPayPaymentResult | None = None

    @property
    def message(self) -> str:
        return _IPN_MESSAGES[self.code]

    def as_json(self) -> dict[str, str]:
        """The body VNPay expects back."""
        return {"RspCode": self.code.value, "Message": self.message}


def _result(query: Mapping[str, str], txn_ref: str, amount: int) -> VNPayPaymentResult:
    response_code = query.get("vnp_ResponseCode", "")
    return VNPayPaymentResult(
        txn_ref=txn_ref,
        amount_vnd=amount,
        paid=response_code == SUCCESS_CODE
        and query.get("vnp_TransactionStatus", "") == SUCCESS_CODE,
        response_code=response_code,
        transaction_no=query.get("vnp_TransactionNo", ""),
        bank_code=query.get("vnp_BankCode", ""),
        pay_date=query.get("vnp_PayDate", ""),
    )


def read_return(query: Mapping[str, str], *, config: VNPayConfig) -> VNPayPaymentResult:
    """The result VNPay put on the rider's way back (`vnp_ReturnUrl`), once its signature is
    checked: the same signed fields as the IPN. VNPayError names what is wrong."""
    if not signature_is_valid(query, config.hash_secret):
        raise VNPayError("the payment result's signature (vnp_SecureHash) is not VNPay's")
    txn_ref = query.get("vnp_TxnRef", "")
    if not txn_ref:
        raise VNPayError("the payment result names no order (vnp_TxnRef)")
    return _result(query, txn_ref, decode_amount(query.get("vnp_Amount", "")))


async def handle_ipn(
    query: Mapping[str, str], *, config: VNPayConfig, orders: VNPayOrderStore
) -> IpnAnswer:
    """Verify an IPN's signature and record its outcome once; never raises."""
    if not signature_is_valid(query, config.hash_secret):
        return IpnAnswer(IpnCode.INVALID_CHECKSUM)
    try:
        txn_ref = query["vnp_TxnRef"]
        order = await orders.get_order(txn_ref)
        if order is None:
            return IpnAnswer(IpnCode.ORDER_NOT_FOUND)
        try:
            amount = decode_amount(query.get("vnp_Amount", ""))
        except VNPayError:
            return IpnAnswer(IpnCode.INVALID_AMOUNT)
        if amount != order.amount_vnd:
            return IpnAnswer(IpnCode.INVALID_AMOUNT)
        if order.confirmed:
            return IpnAnswer(IpnCode.ALREADY_CONFIRMED)
        result = _result(query, txn_ref, amount)
        if not await orders.confirm_order(result):
            return IpnAnswer(IpnCode.ALREADY_CONFIRMED)
        return IpnAnswer(IpnCode.CONFIRMED, result)
    except Exception:
        # VNPay only understands RspCode; anything unexpected is "99" and VNPay will retry.
        _log.exception("VNPay IPN for %r failed", query.get("vnp_TxnRef"))
        return IpnAnswer(IpnCode.UNKNOWN_ERROR)


# -- querydr: what VNPay says happened to an order -----------------------------------------

# The querydr checksum is HMAC-SHA512 over these fields' values joined by "|", in this order
# (not sorted, not URL-encoded; an absent field is an empty string), per VNPay's guide
# ("truy-van-hoan-tien/querydr&refund").
QUERY_REQUEST_HASH_FIELDS = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
    "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
)  # fmt: skip
QUERY_RESPONSE_HASH_FIELDS = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
    "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
    "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode",
    "vnp_PromotionAmount",
)  # fmt: skip
QUERY_NOT_FOUND = "91"  # vnp_ResponseCode: VNPay has no such transaction


def pipe_hash(params: Mapping[str, object], fields: Sequence[str], hash_secret: str) -> str:
    data = "|".join(str(params.get(name, "") or "") for name in fields)
    return hmac.new(hash_secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


@dataclass(frozen=True, slots=True)
class VNPayTransaction:
    """VNPay's record of one order: `found` False if it has none; `paid` when its transaction
    status is success ("00"); `amount_vnd` what it collected (None if not found)."""

    txn_ref: str
    found: bool
    paid: bool
    amount_vnd: int | None
    status: str
    transaction_no: str


async def query_transaction(
    config: VNPayConfig,
    client: httpx.AsyncClient,
    *,
    txn_ref: str,
    transaction_date: datetime,
    at: datetime,
    ip_addr: str = "127.0.0.1",
) -> VNPayTransaction:
    """Ask VNPay (`querydr`) what became of order `txn_ref`, opened at `transaction_date`.
    VNPayError if VNPay cannot be asked, refuses the query, or its answer is not signed by it."""
    request = {
        "vnp_RequestId": secrets.token_hex(16),
        "vnp_Version": VNPAY_VERSION,
        "vnp_Command": "querydr",
        "vnp_TmnCode": config.tmn_code,
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": f"Doi soat {txn_ref}",
        "vnp_TransactionDate": format_vnpay_time(transaction_date),
        "vnp_CreateDate": format_vnpay_time(at),
        "vnp_IpAddr": ip_addr,
    }
    request["vnp_SecureHash"] = pipe_hash(request, QUERY_REQUEST_HASH_FIELDS, config.hash_secret)
    try:
        response = await client.post(config.api_url, json=request)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise VNPayError(f"VNPay's querydr for {txn_ref} failed: {error}") from error
    if not isinstance(answer, dict):
        raise VNPayError(f"VNPay's querydr for {txn_ref} answered {answer!r}")
    expected = pipe_hash(answer, QUERY_RESPONSE_HASH_FIELDS, config.hash_secret)
    if not hmac.compare_digest(expected, str(answer.get("vnp_SecureHash", "")).lower()):
        raise VNPayError(f"VNPay's querydr answer for {txn_ref} is not signed by VNPay")
    code = str(answer.get("vnp_ResponseCode", ""))
    if code == QUERY_NOT_FOUND:
        return VNPayTransaction(txn_ref, False, False, None, "", "")
    if code != SUCCESS_CODE or answer.get("vnp_TxnRef") != txn_ref:
        raise VNPayError(
            f"VNPay refused the querydr for {txn_ref}: {code} {answer.get('vnp_Message', '')}"
        )
    status = str(answer.get("vnp_TransactionStatus", ""))
    return VNPayTransaction(
        txn_ref,
        True,
        status == SUCCESS_CODE,
        decode_amount(str(answer.get("vnp_Amount", ""))),
        status,
        str(answer.get("vnp_TransactionNo", "")),
    )
