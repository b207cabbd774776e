"""VNPay top-ups over HTTP against the local stand-in (gateways.vnpay_standin, written from
VNPay's published API): the signed redirect, the rider paying at VNPay, the IPN and the return
in either order and the IPN twice, the wallet credited exactly once; a bad signature refused
with a clear error (400 on the return, RspCode 97 on the IPN), a cancelled payment crediting
nothing, and every bad request a clear 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from gateways.localstripe_server import LocalStripe
from gateways.vnpay_standin import VNPayStandIn
from tests.helpers.api import Client, make_config
from tests.helpers.passengers import Passenger, register
from tests.helpers.vnpay import IPN_PATH, pay_at_standin, standin, vnpay_config


@pytest.fixture
async def vnpay() -> AsyncIterator[tuple[VNPayStandIn, str]]:
    stand_in = standin()
    async with TestServer(stand_in.app()) as server:
        yield stand_in, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def app_client(
    tmp_path: Path,
    db_url: str,
    localstripe_server: LocalStripe,
    vnpay: tuple[VNPayStandIn, str],
) -> AsyncIterator[Client]:
    stand_in, url = vnpay
    config = make_config(tmp_path, db_url, localstripe_server, vnpay=vnpay_config(url))
    async with TestClient(TestServer(create_app(config))) as client:
        stand_in.ipn_url = str(client.make_url(IPN_PATH))
        yield client


async def balance(rider: Passenger) -> int:
    account = await (await rider.get("/api/v1/passenger/account")).json()
    return int(account["balance"]["amount"])


async def start(rider: Passenger, amount: int = 100_000) -> dict[str, str]:
    response = await rider.post("/api/v1/passenger/vnpay/top-ups", {"amount": amount})
    assert response.status == 200, await response.text()
    started = await response.json()
    assert started["order"]["status"] == "pending"
    query = dict(parse_qsl(urlsplit(started["pay_url"]).query))
    assert query["vnp_Amount"] == str(amount * 100)  # VNPay's two implied decimals
    assert (query["vnp_Version"], query["vnp_Command"]) == ("2.1.0", "pay")
    return {"pay_url": started["pay_url"], "txn_ref": started["order"]["txn_ref"]}


async def come_back(rider: Passenger, result: dict[str, str]) -> tuple[int, dict[str, str]]:
    response = await rider.get(f"/api/v1/passenger/vnpay/return?{urlencode(result)}")
    return response.status, await response.json()


async def test_the_ipn_twice_before_the_return_credits_the_wallet_once(
    app_client: Client, vnpay: tuple[VNPayStandIn, str]
) -> None:
    stand_in, _ = vnpay
    stand_in.ipn_copies = 2
    rider = await register(app_client)
    order = await start(rider)
    result = await pay_at_standin(order["pay_url"])
    assert [a["RspCode"] for a in stand_in.ipn_answers] == ["00", "02"]
    assert await balance(rider) == 100_000
    status, back = await come_back(rider, result)
    assert status == 200
    assert back["status"] == "paid"
    assert back["txn_ref"] == order["txn_ref"]
    assert back["transaction_no"] == result["vnp_TransactionNo"]
    assert (await come_back(rider, result))[1]["status"] == "paid"  # a reload of the page
    assert await balance(rider) == 100_000
    receipts = (await (await rider.get("/api/v1/passenger/receipts")).json())["receipts"]
    assert [(r["description"], r["amount"]["amount"], r["paid_for"]) for r in receipts] == [
        ("Wallet top-up by VNPay", 100_000, {"kind": "top_up", "method": "vnpay"})
    ]


async def test_the_return_before_the_ipn_credits_the_wallet_once(
    app_client: Client, vnpay: tuple[VNPayStandIn, str]
) -> None:
    stand_in, _ = vnpay
    stand_in.ipn_url = None  # VNPay's IPN is late: sent below, after the return
    rider = await register(app_client)
    result = await pay_at_standin((await start(rider, 50_000))["pay_url"])
    status, back = await come_back(rider, result)
    assert (status, back["status"]) == (200, "paid")
    assert await balance(rider) == 50_000
    late = await app_client.get(f"{IPN_PATH}?{urlencode(result)}")
    assert await late.json() == {"RspCode": "02", "Message": "Order already confirmed"}
    assert await balance(rider) == 50_000
    lookup = await rider.get(f"/api/v1/passenger/vnpay/top-ups/{back['txn_ref']}")
    assert (await lookup.json())["status"] == "paid"


async def test_a_cancelled_payment_credits_nothing(
    app_client: Client, vnpay: tuple[VNPayStandIn, str]
) -> None:
    rider = await register(app_client)
    result = await pay_at_standin((await start(rider))["pay_url"], outcome="cancelled")
    assert result["vnp_ResponseCode"] == "24"
    status, back = await come_back(rider, result)
    assert (status, back["status"]) == (200, "failed")
    assert await balance(rider) == 0


async def test_a_bad_signature_is_refused_and_credits_nothing(
    app_client: Client, vnpay: tuple[VNPayStandIn, str]
) -> None:
    stand_in, _ = vnpay
    stand_in.ipn_url = None  # only the forged results below reach the app
    rider = await register(app_client)
    order = await start(rider)
    result = await pay_at_standin(order["pay_url"])
    forged = {**result, "vnp_Amount": str(10_000_000 * 100)}  # the amount changed, hash kept
    status, problem = await come_back(rider, forged)
    assert status == 400
    assert problem["type"].endswith(":vnpay-result-refused")
    assert "signature" in problem["detail"]
    ipn = await app_client.get(f"{IPN_PATH}?{urlencode(forged)}")
    assert ipn.status == 200
    assert (await ipn.json())["RspCode"] == "97"
    unsigned = {k: v for k, v in result.items() if k != "vnp_SecureHash"}
    assert (await come_back(rider, unsigned))[0] == 400
    assert await balance(rider) == 0
    # A payment URL whose signature is not ours is refused by VNPay's side too.
    tampered = order["pay_url"].replace("vnp_Amount=", "vnp_Amount=1")
    async with aiohttp.ClientSession() as session, session.get(tampered) as page:
        assert page.status == 400
        assert "invalid checksum" in await page.text()


async def test_another_riders_result_and_bad_requests_are_clear_refusals(
    app_client: Client, vnpay: tuple[VNPayStandIn, str]
) -> None:
    rider, other = await register(app_client), await register(app_client)
    result = await pay_at_standin((await start(rider))["pay_url"])
    status, problem = await come_back(other, result)
    assert status == 400
    assert "on this account" in problem["detail"]
    for body in ({"amount": 9_999}, {"amount": 10_000_001}, {"amount": "1"}, {}):
        assert (await rider.post("/api/v1/passenger/vnpay/top-ups", body)).status == 422
    postpaid = await register(app_client, "postpaid_card")
    refused = await postpaid.post("/api/v1/passenger/vnpay/top-ups", {"amount": 100_000})
    assert refused.status == 409
    assert (await rider.get("/api/v1/passenger/vnpay/top-ups/nope")).status == 404
    assert (await rider.get("/api/v1/passenger/vnpay/return")).status == 400
    unknown = await app_client.get(f"{IPN_PATH}?vnp_TxnRef=x")
    assert (await unknown.json())["RspCode"] == "97"


async def test_without_a_vnpay_terminal_the_routes_say_so(client: Client) -> None:
    rider = await register(client)
    response = await rider.post("/api/v1/passenger/vnpay/top-ups", {"amount": 100_000})
    assert response.status == 503
    assert (await response.json())["type"].endswith(":vnpay-unavailable")
