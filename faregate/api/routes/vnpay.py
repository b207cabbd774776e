"""VNPay top-ups over HTTP (`ticketing.services.vnpay_top_ups`): the redirect, the return and
the IPN of VNPay's API 2.1.0, signed as `gateways.vnpay` says.

- `POST /api/v1/passenger/vnpay/top-ups` `{"amount"}` (a passenger): a pending order and the
  signed `pay_url` to send the rider to. The rider comes back to the passenger page (`/`, or
  the configured return URL) with VNPay's signed result in the query.
- `GET /api/v1/passenger/vnpay/return?vnp_...` (the page passes the query it came back with):
  the result checked and, if no IPN did yet, the order settled; the order as it stands. 400
  `vnpay-result-refused` for a result that is not VNPay's.
- `GET /api/v1/passenger/vnpay/top-ups/{txn_ref}`: one order of the account.
- `GET /api/v1/payments/vnpay/ipn?vnp_...` (VNPay's server, no sign-in: the signature is the
  proof): answered `{"RspCode", "Message"}` as VNPay expects (00 confirmed, 01 unknown order,
  02 already confirmed, 04 wrong amount, 97 bad checksum, 99 anything else).

Every signed field is read from the raw query: a field VNPay adds later is still signed.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

import msgspec

from faregate.api.context import CONFIG, UOWS
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.web.clients import client_address
from gateways.vnpay import VNPayConfig, handle_ipn
from ticketing.payments.errors import VNPayNotConfigured
from ticketing.payments.model import TopUpOrder
from ticketing.services import vnpay_top_ups

routes = RouteRegistry()

MAX_TOP_UP = 10_000_000  # VND, one top-up, as a card top-up
TXN_REF_PARAMETER = {
    "name": "txn_ref",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9]{1,40}$"},
}


class VNPayTopUpRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    amount: Annotated[int, msgspec.Meta(ge=10_000, le=MAX_TOP_UP)]  # VNPay's least: 10,000 VND


class TopUpOrderDocument(msgspec.Struct, kw_only=True):
    """`status`: `pending` (no result from VNPay yet), `paid` (the wallet was credited, once)
    or `failed` (cancelled or declined at VNPay: nothing credited)."""

    txn_ref: str
    status: str
    amount: int
    currency: str
    created_at: datetime
    confirmed_at: datetime | None
    transaction_no: str | None


class StartedDocument(msgspec.Struct, kw_only=True):
    order: TopUpOrderDocument
    pay_url: str


class IpnDocument(msgspec.Struct, kw_only=True):
    RspCode: str
    Message: str


def _config(call: Call) -> VNPayConfig:
    config = call.app[CONFIG].vnpay
    if config is None:
        raise VNPayNotConfigured("VNPay top-ups are not set up on this server")
    if not config.return_url:  # back to the page that sent the rider, on this server
        return dataclasses.replace(config, return_url=f"{call.request.url.origin()}/")
    return config


def _document(order: TopUpOrder) -> TopUpOrderDocument:
    return TopUpOrderDocument(
        txn_ref=order.txn_ref,
        status=order.status.value,
        amount=order.amount.amount,
        currency=order.amount.currency,
        created_at=order.created_at,
        confirmed_at=order.confirmed_at,
        transaction_no=order.transaction_no,
    )


def _account_id(call: Call) -> str:
    account_id = call.user.account_id
    assert account_id is not None  # check_user gives every passenger user an account
    return account_id


@routes.route(
    "POST", "/api/v1/passenger/vnpay/top-ups",
    summary="Start a wallet top-up paid at VNPay (the URL to send the rider to)",
    tag="passenger", auth=Auth.PASSENGER, body=VNPayTopUpRequest, response=StartedDocument,
    errors=[409, 503]
)  # fmt: skip
async def start_vnpay_top_up(call: Call) -> StartedDocument:
    request = call.body_as(VNPayTopUpRequest)
    app = call.app
    started = await vnpay_top_ups.start_top_up(
        app[UOWS], _config(call), _account_id(call), request.amount,
        ip_addr=client_address(call.request, app[CONFIG].trusted_proxies),
        at=app[CONFIG].clock(),
    )  # fmt: skip
    return StartedDocument(order=_document(started.order), pay_url=started.pay_url)


@routes.route(
    "GET", "/api/v1/passenger/vnpay/return",
    summary="The rider back from VNPay: its signed result checked and applied once",
    tag="passenger", auth=Auth.PASSENGER, response=TopUpOrderDocument, errors=[400, 503],
)  # fmt: skip
async def vnpay_return(call: Call) -> TopUpOrderDocument:
    order = await vnpay_top_ups.settle_return(
        call.app[UOWS], _config(call), _account_id(call), dict(call.request.query),
        clock=call.app[CONFIG].clock,
    )  # fmt: skip
    return _document(order)


@routes.route(
    "GET", "/api/v1/passenger/vnpay/top-ups/{txn_ref}", summary="One of my VNPay top-ups",
    tag="passenger", auth=Auth.PASSENGER, response=TopUpOrderDocument, errors=[404],
    parameters=[TXN_REF_PARAMETER],
)  # fmt: skip
async def vnpay_top_up(call: Call) -> TopUpOrderDocument:
    order = await vnpay_top_ups.top_up_status(
        call.app[UOWS], _account_id(call), call.request.match_info["txn_ref"]
    )
    return _document(order)


@routes.route(
    "GET", "/api/v1/payments/vnpay/ipn",
    summary="VNPay's IPN: the signed result of a payment, answered with RspCode",
    tag="webhooks", response=IpnDocument, errors=[503],
)  # fmt: skip
async def vnpay_ipn(call: Call) -> IpnDocument:
    app = call.app
    answer = await handle_ipn(
        dict(call.request.query),
        config=_config(call),
        orders=vnpay_top_ups.TopUpOrders(app[UOWS], app[CONFIG].clock),
    )
    return IpnDocument(RspCode=answer.code.value, Message=answer.message)
