"""A stand-in for VNPay's side, for tests: reads our payment URL, answers with signed IPNs.

It checks our URL the way VNPay would (signature, version, amount format) and builds the IPN
query VNPay sends after the rider pays, with knobs to tamper with it.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, quote_plus, urlsplit
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def _vnpay_hash(params: dict[str, str], secret: str) -> str:
    # Written from VNPay's integration guide, independently of gateways.vnpay, so the tests
    # compare two implementations rather than one with itself.
    pairs = sorted(
        (k, v)
        for k, v in params.items()
        if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType") and v
    )
    data = "&".join(quote_plus(k) + "=" + quote_plus(v) for k, v in pairs)
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


class RejectedByVNPay(Exception):
    """VNPay would show the rider an error page for this payment URL."""


@dataclass
class VNPaySimulator:
    tmn_code: str
    hash_secret: str
    _transaction_numbers: itertools.count[int] = field(
        default_factory=lambda: itertools.count(14000001)
    )

    def open_payment_url(self, url: str) -> dict[str, str]:
        """The parameters of a payment URL, after checking it like VNPay does."""
        params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        if params.get("vnp_SecureHash") != _vnpay_hash(params, self.hash_secret):
            raise RejectedByVNPay("invalid signature")
        if params.get("vnp_TmnCode") != self.tmn_code or params.get("vnp_Version") != "2.1.0":
            raise RejectedByVNPay("unknown terminal or version")
        amount = params.get("vnp_Amount", "")
        if not amount.isdigit() or int(amount) % 100:
            raise RejectedByVNPay("invalid amount")
        return params

    def ipn_query(
        self,
        payment_url: str,
        *,
        paid: bool = True,
        at: datetime,
        amount_override: str | None = None,
        sign_with: str | None = None,
    ) -> dict[str, str]:
        """The IPN VNPay would send once the rider finished paying at `payment_url`."""
        request = self.open_payment_url(payment_url)
        ipn = {
            "vnp_TmnCode": self.tmn_code,
            "vnp_Amount": amount_override or request["vnp_Amount"],
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{next(self._transaction_numbers)}",
            "vnp_CardType": "ATM",
            "vnp_PayDate": at.astimezone(VIETNAM).strftime("%Y%m%d%H%M%S"),
            "vnp_OrderInfo": request["vnp_OrderInfo"],
            "vnp_TransactionNo": str(next(self._transaction_numbers)),
            "vnp_ResponseCode": "00" if paid else "24",
            "vnp_TransactionStatus": "00" if paid else "02",
            "vnp_TxnRef": request["vnp_TxnRef"],
            "vnp_SecureHashType": "HmacSHA512",
        }
        ipn["vnp_SecureHash"] = _vnpay_hash(ipn, sign_with or self.hash_secret)
        return ipn
