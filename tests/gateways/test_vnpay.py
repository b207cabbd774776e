"""VNPay: payment URL signing, amount encoding, and IPN answers against a simulated VNPay."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.errors import VNPayError
from gateways.vnpay import (
    QUERY_REQUEST_HASH_FIELDS,
    IpnCode,
    VNPayConfig,
    VNPayOrder,
    VNPayPaymentResult,
    build_payment_url,
    decode_amount,
    encode_amount,
    handle_ipn,
    pipe_hash,
    secure_hash,
    signature_is_valid,
)

from .vnpay_sim import RejectedByVNPay, VNPaySimulator

CONFIG = VNPayConfig(
    tmn_code="FAREGT01",
    hash_secret="SECRETKEYFORTESTSONLY0123456789",
    return_url="https://faregate.example/vnpay/return",
)
AT = datetime(2025, 3, 14, 1, 30, tzinfo=UTC)


class MemoryOrders:
    """The order store our side supplies, in memory."""

    def __init__(self) -> None:
        self.orders: dict[str, VNPayOrder] = {}
        self.results: list[VNPayPaymentResult] = []

    def add(self, txn_ref: str, amount_vnd: int) -> None:
        self.orders[txn_ref] = VNPayOrder(txn_ref, amount_vnd, confirmed=False)

    async def get_order(self, txn_ref: str) -> VNPayOrder | None:
        return self.orders.get(txn_ref)

    async def confirm_order(self, result: VNPayPaymentResult) -> bool:
        order = self.orders[result.txn_ref]
        if order.confirmed:
            return False
        self.orders[result.txn_ref] = replace(order, confirmed=True)
        self.results.append(result)
        return True


def _url(txn_ref: str = "TOPUP-42", amount: int = 50_000) -> str:
    return build_payment_url(
        CONFIG,
        txn_ref=txn_ref,
        amount_vnd=amount,
        order_info=f"Nap vi Faregate {txn_ref}",
        ip_addr="203.0.113.7",
        at=AT,
    )


@pytest.fixture
def sim() -> VNPaySimulator:
    return VNPaySimulator(CONFIG.tmn_code, CONFIG.hash_secret)


@pytest.fixture
def orders() -> MemoryOrders:
    store = MemoryOrders()
    store.add("TOPUP-42", 50_000)
    return store


def test_payment_url_is_accepted_by_vnpay_with_amount_times_100(sim: VNPaySimulator) -> None:
    params = sim.open_payment_url(_url(amount=50_000))
    assert params["vnp_Amount"] == "5000000"
    assert params["vnp_CurrCode"] == "VND"
    assert params["vnp_CreateDate"] == "20250314083000"  # 01:30 UTC is 08:30 in Hanoi
    assert params["vnp_ExpireDate"] == "20250314084500"
    assert "vnp_SecureHashType" not in params


def test_tampered_payment_url_is_rejected(sim: VNPaySimulator) -> None:
    url = _url(amount=50_000).replace("vnp_Amount=5000000", "vnp_Amount=100")
    with pytest.raises(RejectedByVNPay):
        sim.open_payment_url(url)


async def test_valid_ipn_is_confirmed_once_then_answered_02(
    sim: VNPaySimulator, orders: MemoryOrders
) -> None:
    ipn = sim.ipn_query(_url(), at=AT)
    first = await handle_ipn(ipn, config=CONFIG, orders=orders)
    assert first.as_json() == {"RspCode": "00", "Message": "Confirm Success"}
    assert first.result is not None
    assert first.result.paid
    assert first.result.amount_vnd == 50_000

    again = await handle_ipn(ipn, config=CONFIG, orders=orders)
    assert again.code is IpnCode.ALREADY_CONFIRMED
    assert len(orders.results) == 1


async def test_failed_payment_ipn_is_recorded_as_unpaid(
    sim: VNPaySimulator, orders: MemoryOrders
) -> None:
    answer = await handle_ipn(
        sim.ipn_query(_url(), at=AT, paid=False), config=CONFIG, orders=orders
    )
    assert answer.code is IpnCode.CONFIRMED
    assert orders.results[0].paid is False
    assert orders.results[0].response_code == "24"


async def test_wrong_amount_is_answered_04(sim: VNPaySimulator, orders: MemoryOrders) -> None:
    ipn = sim.ipn_query(_url(), at=AT, amount_override="4000000")
    answer = await handle_ipn(ipn, config=CONFIG, orders=orders)
    assert answer.code is IpnCode.INVALID_AMOUNT
    assert orders.results == []
    assert orders.orders["TOPUP-42"].confirmed is False


async def test_fractional_vnd_amount_is_answered_04(
    sim: VNPaySimulator, orders: MemoryOrders
) -> None:
    ipn = sim.ipn_query(_url(), at=AT, amount_override="5000050")
    assert (await handle_ipn(ipn, config=CONFIG, orders=orders)).code is IpnCode.INVALID_AMOUNT


async def test_bad_signature_is_answered_97(sim: VNPaySimulator, orders: MemoryOrders) -> None:
    forged = sim.ipn_query(_url(), at=AT, sign_with="not-the-secret")
    assert (await handle_ipn(forged, config=CONFIG, orders=orders)).code is IpnCode.INVALID_CHECKSUM
    altered = {**sim.ipn_query(_url(), at=AT), "vnp_ResponseCode": "00", "vnp_Amount": "1"}
    assert (
        await handle_ipn(altered, config=CONFIG, orders=orders)
    ).code is IpnCode.INVALID_CHECKSUM
    unsigned = {k: v for k, v in sim.ipn_query(_url(), at=AT).items() if k != "vnp_SecureHash"}
    assert (
        await handle_ipn(unsigned, config=CONFIG, orders=orders)
    ).code is IpnCode.INVALID_CHECKSUM
    assert orders.results == []


async def test_unknown_order_is_answered_01(sim: VNPaySimulator, orders: MemoryOrders) -> None:
    ipn = sim.ipn_query(_url(txn_ref="NOPE-1"), at=AT)
    assert (await handle_ipn(ipn, config=CONFIG, orders=orders)).code is IpnCode.ORDER_NOT_FOUND


async def test_store_failure_is_answered_99(sim: VNPaySimulator) -> None:
    class BrokenOrders(MemoryOrders):
        async def get_order(self, txn_ref: str) -> VNPayOrder | None:
            raise ConnectionError("database down")

    answer = await handle_ipn(sim.ipn_query(_url(), at=AT), config=CONFIG, orders=BrokenOrders())
    assert answer.as_json()["RspCode"] == "99"


@pytest.mark.parametrize("bad", [0, -5, 1.5, 50_000.0, True, 10**11])
def test_encode_amount_refuses_non_positive_non_int_or_too_large(bad: object) -> None:
    with pytest.raises(VNPayError):
        encode_amount(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "12.00", "-100", "1e5", "150", "１００"])
def test_decode_amount_refuses_malformed(bad: str) -> None:
    with pytest.raises(VNPayError):
        decode_amount(bad)


@given(st.integers(min_value=1, max_value=9_999_999_999))
def test_amount_encoding_round_trips_as_integers(vnd: int) -> None:
    encoded = encode_amount(vnd)
    assert encoded == str(vnd) + "00"
    assert decode_amount(encoded) == vnd


_vnp_values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=30
)


@given(
    st.dictionaries(
        st.from_regex(r"vnp_[A-Za-z]{1,12}", fullmatch=True), _vnp_values, min_size=1, max_size=8
    ),
    st.text(min_size=1, max_size=40),
)
def test_signature_round_trips_and_detects_any_change(params: dict[str, str], secret: str) -> None:
    signed = {**params, "vnp_SecureHash": secure_hash(params, secret)}
    assert signature_is_valid(signed, secret)
    assert not signature_is_valid(signed, secret + "x")
    key = sorted(params)[0]
    if key not in ("vnp_SecureHash", "vnp_SecureHashType"):
        changed = {**signed, key: params[key] + "1"}
        assert not signature_is_valid(changed, secret)


def test_payment_url_query_is_exactly_what_is_signed() -> None:
    query = urlsplit(_url()).query
    signed_part, _, hash_part = query.rpartition("&vnp_SecureHash=")
    params = dict(parse_qsl(signed_part))
    assert hash_part == secure_hash(params, CONFIG.hash_secret)


def _hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def test_the_checksums_sign_the_strings_the_guide_describes() -> None:
    """The adapter's two checksums (the local stand-in signs with them too) against the strings
    VNPay's guide says are signed, written out here by hand: the payment's sorted, form-encoded
    non-empty `vnp_*` fields without the hash fields; the transaction query's values in the
    guide's order joined by `|`, an absent one empty."""
    payment = {
        "vnp_Version": "2.1.0", "vnp_Command": "pay", "vnp_TmnCode": "FAREGATE",
        "vnp_Amount": "10000000", "vnp_OrderInfo": "Nạp tiền ví 100.000 đ", "vnp_BankCode": "",
        "vnp_ReturnUrl": "https://faregate.example/return?x=1", "vnp_SecureHashType": "SHA512",
        "lang": "vi",
    }  # fmt: skip
    assert secure_hash(payment, "SECRET") == _hmac_sha512(
        "SECRET",
        "vnp_Amount=10000000&vnp_Command=pay"
        "&vnp_OrderInfo=N%E1%BA%A1p+ti%E1%BB%81n+v%C3%AD+100.000+%C4%91"
        "&vnp_ReturnUrl=https%3A%2F%2Ffaregate.example%2Freturn%3Fx%3D1"
        "&vnp_TmnCode=FAREGATE&vnp_Version=2.1.0",
    )
    query = {
        "vnp_RequestId": "r1", "vnp_Version": "2.1.0", "vnp_Command": "querydr",
        "vnp_TmnCode": "FAREGATE", "vnp_TxnRef": "t1", "vnp_TransactionDate": "20261207093000",
        "vnp_CreateDate": "20261207100000", "vnp_IpAddr": "127.0.0.1",
    }  # fmt: skip
    assert pipe_hash(query, QUERY_REQUEST_HASH_FIELDS, "SECRET") == _hmac_sha512(
        "SECRET", "r1|2.1.0|querydr|FAREGATE|t1|20261207093000|20261207100000|127.0.0.1|"
    )
