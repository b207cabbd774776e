"""A local stand-in for VNPay's payment gateway (API 2.1.0), as localstripe stands in for
Stripe: written from VNPay's published integration guide (sandbox.vnpayment.vn/apis/docs:
"thanh-toan-pay"), not from our adapter, so tests compare two readings of the guide's flows.
Its checksums are the adapter's (`gateways.vnpay.secure_hash`, `.pipe_hash`: one signing
function each), checked against strings written out from the guide in
tests/gateways/test_vnpay.py.

- `GET /paymentv2/vpcpay.html?vnp_...`: the payment URL a merchant redirects the rider to. It
  is checked as VNPay does (the HMAC-SHA512 `vnp_SecureHash` over the sorted, form-encoded
  `vnp_*` fields; `vnp_Version` 2.1.0, `vnp_Command` pay, the terminal code, `vnp_Amount` a
  whole number x100, `vnp_CurrCode` VND, a return URL) and answered with a payment page
  (Pay / Cancel), or a 400 page naming what is wrong.
- `POST /paymentv2/pay` (form `payment`, `outcome` `paid` or `cancelled`): the rider's choice.
  VNPay then calls the merchant's IPN URL (GET, the signed result: `vnp_ResponseCode`,
  `vnp_TransactionStatus`, `vnp_TransactionNo`, `vnp_BankCode`, `vnp_PayDate`, ...) and sends
  the rider back to `vnp_ReturnUrl` with the same signed result. `ipn_copies` sends the IPN
  that many times (VNPay retries until it reads an answer), before the return.
- `POST /merchant_webapi/api/transaction` (JSON, `vnp_Command` querydr): what became of an
  order, as VNPay's transaction query answers it: the request's checksum checked (HMAC-SHA512
  over its fields joined by `|` in the guide's order), the answer signed the same way over the
  answer's fields; `vnp_ResponseCode` 91 when no order has that `vnp_TxnRef`,
  `vnp_TransactionStatus` 00 paid, 01 not finished, 02 failed.
- `GET /standin/transactions`: what was paid here (JSON), for tests and reconciliation.

    python -m gateways.vnpay_standin --port 8090 --tmn-code FAREGATE --hash-secret S \\
        --ipn-url http://127.0.0.1:8080/api/v1/payments/vnpay/ipn
"""

from __future__ import annotations

import argparse
import hmac
import html
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from gateways.vnpay import (
    QUERY_REQUEST_HASH_FIELDS,
    QUERY_RESPONSE_HASH_FIELDS,
    pipe_hash,
    secure_hash,
)

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
PAY_PATH = "/paymentv2/vpcpay.html"
API_PATH = "/merchant_webapi/api/transaction"


@dataclass
class Transaction:
    """A payment opened at the stand-in and, once the rider chose, its result."""

    request: dict[str, str]
    result: dict[str, str] | None = None


@dataclass
class VNPayStandIn:
    """The stand-in's state; `app()` serves it. `ipn_url`: where VNPay calls the merchant
    (configured at VNPay for the terminal; settable once the merchant's port is known)."""

    tmn_code: str
    hash_secret: str
    ipn_url: str | None = None
    ipn_copies: int = 1
    transactions: dict[str, Transaction] = field(default_factory=dict)
    ipn_answers: list[dict[str, str]] = field(default_factory=list)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(14_000_001))

    def check(self, params: dict[str, str]) -> str | None:
        """What VNPay would refuse in this payment request, or None."""
        if not hmac.compare_digest(
            params.get("vnp_SecureHash", "").lower(), secure_hash(params, self.hash_secret)
        ):
            return "invalid checksum (vnp_SecureHash)"
        if params.get("vnp_Version") != "2.1.0" or params.get("vnp_Command") != "pay":
            return "vnp_Version must be 2.1.0 and vnp_Command pay"
        if params.get("vnp_TmnCode") != self.tmn_code:
            return "unknown terminal (vnp_TmnCode)"
        amount = params.get("vnp_Amount", "")
        if not (amount.isascii() and amount.isdigit()) or int(amount) <= 0 or int(amount) % 100:
            return "invalid amount (vnp_Amount is VND x 100)"
        if params.get("vnp_CurrCode") != "VND":
            return "vnp_CurrCode must be VND"
        for name in (
            "vnp_TxnRef",
            "vnp_ReturnUrl",
            "vnp_CreateDate",
            "vnp_IpAddr",
            "vnp_OrderInfo",
        ):
            if not params.get(name):
                return f"{name} is required"
        return None

    def result(self, request: dict[str, str], *, paid: bool, at: datetime) -> dict[str, str]:
        """The signed result VNPay sends to the IPN URL and the return URL."""
        answer = {
            "vnp_TmnCode": self.tmn_code,
            "vnp_Amount": request["vnp_Amount"],
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{next(self._numbers)}",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": request["vnp_OrderInfo"],
            "vnp_PayDate": at.astimezone(VIETNAM).strftime("%Y%m%d%H%M%S"),
            "vnp_ResponseCode": "00" if paid else "24",  # 24: the customer cancelled
            "vnp_TransactionNo": str(next(self._numbers)),
            "vnp_TransactionStatus": "00" if paid else "02",
            "vnp_TxnRef": request["vnp_TxnRef"],
        }
        answer["vnp_SecureHash"] = secure_hash(answer, self.hash_secret)
        return answer

    def open(self, params: dict[str, str]) -> str:
        """Record a checked payment request; its id at the stand-in."""
        payment = secrets.token_hex(8)
        self.transactions[payment] = Transaction(dict(params))
        return payment

    async def send_ipn(self, result: dict[str, str]) -> None:
        if self.ipn_url is None:
            return
        async with aiohttp.ClientSession() as session:
            for _ in range(self.ipn_copies):
                async with session.get(self.ipn_url, params=result) as response:
                    self.ipn_answers.append(await response.json(content_type=None))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(PAY_PATH, self._payment_page)
        app.router.add_post("/paymentv2/pay", self._pay)
        app.router.add_post(API_PATH, self._api)
        app.router.add_get("/standin/transactions", self._list)
        return app

    def query(self, params: dict[str, str]) -> dict[str, str]:
        """The signed answer to a querydr request."""
        answer = {
            "vnp_ResponseId": secrets.token_hex(8),
            "vnp_Command": "querydr",
            "vnp_TmnCode": self.tmn_code,
            "vnp_TxnRef": params.get("vnp_TxnRef", ""),
        }
        if not hmac.compare_digest(
            params.get("vnp_SecureHash", "").lower(),
            pipe_hash(params, QUERY_REQUEST_HASH_FIELDS, self.hash_secret),
        ):
            answer |= {"vnp_ResponseCode": "97", "vnp_Message": "Invalid checksum"}
        elif params.get("vnp_TmnCode") != self.tmn_code:
            answer |= {"vnp_ResponseCode": "02", "vnp_Message": "Merchant is not valid"}
        else:
            found = [
                t for t in self.transactions.values()
                if t.request["vnp_TxnRef"] == params.get("vnp_TxnRef")
            ]  # fmt: skip
            if not found:
                answer |= {"vnp_ResponseCode": "91", "vnp_Message": "Transaction not found"}
            else:
                latest = found[-1]
                result = latest.result or {}
                answer |= {
                    "vnp_ResponseCode": "00",
                    "vnp_Message": "QueryDR Success",
                    "vnp_Amount": latest.request["vnp_Amount"],
                    "vnp_BankCode": result.get("vnp_BankCode", ""),
                    "vnp_PayDate": result.get("vnp_PayDate", ""),
                    "vnp_TransactionNo": result.get("vnp_TransactionNo", ""),
                    "vnp_TransactionType": "01",
                    "vnp_TransactionStatus": result.get("vnp_TransactionStatus", "01"),
                    "vnp_OrderInfo": latest.request["vnp_OrderInfo"],
                }
        answer["vnp_SecureHash"] = pipe_hash(answer, QUERY_RESPONSE_HASH_FIELDS, self.hash_secret)
        return answer

    async def _api(self, request: web.Request) -> web.Response:
        try:
            params = await request.json()
        except ValueError:
            return web.json_response({"vnp_ResponseCode": "99", "vnp_Message": "Not JSON"})
        if not isinstance(params, dict) or params.get("vnp_Command") != "querydr":
            return web.json_response({"vnp_ResponseCode": "99", "vnp_Message": "Unknown command"})
        return web.json_response(self.query({str(k): str(v) for k, v in params.items()}))

    async def _payment_page(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        problem = self.check(params)
        if problem is not None:
            return _page(f"<p role='alert'>Error: {html.escape(problem)}</p>", status=400)
        payment = self.open(params)
        amount = int(params["vnp_Amount"]) // 100
        return _page(
            f"<p>Merchant {html.escape(self.tmn_code)}: {html.escape(params['vnp_OrderInfo'])}</p>"
            f"<p>Amount: <strong>{amount:,} VND</strong></p>"
            "<form method='post' action='/paymentv2/pay'>"
            f"<input type='hidden' name='payment' value='{payment}'>"
            "<button name='outcome' value='paid'>Pay</button> "
            "<button name='outcome' value='cancelled'>Cancel</button></form>"
        )

    async def _pay(self, request: web.Request) -> web.Response:
        form = await request.post()
        transaction = self.transactions.get(str(form.get("payment", "")))
        if transaction is None or transaction.result is not None:
            return _page("<p role='alert'>Error: no such payment waiting</p>", status=400)
        paid = form.get("outcome") == "paid"
        transaction.result = self.result(transaction.request, paid=paid, at=datetime.now(UTC))
        await self.send_ipn(transaction.result)
        back = transaction.request["vnp_ReturnUrl"]
        raise web.HTTPFound(f"{back}{'&' if '?' in back else '?'}{urlencode(transaction.result)}")

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response(
            [{"request": t.request, "result": t.result} for t in self.transactions.values()]
        )


def _page(body: str, *, status: int = 200) -> web.Response:
    return web.Response(
        text=f"<!doctype html><meta charset=utf-8><title>VNPay stand-in</title>{body}",
        content_type="text/html",
        status=status,
    )


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a manual tool
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--tmn-code", required=True)
    parser.add_argument("--hash-secret", required=True)
    parser.add_argument("--ipn-url")
    args = parser.parse_args(argv)
    standin = VNPayStandIn(args.tmn_code, args.hash_secret, args.ipn_url)
    web.run_app(standin.app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
