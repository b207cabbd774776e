"""The VNPay stand-in (`gateways.vnpay_standin`) for the API and page tests: served on a
loopback port beside the app, the app configured to send riders to it, and a rider paying
there as a browser would (the payment page's form, then the redirect back)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web

from gateways.localstripe_server import LocalStripe
from gateways.vnpay import VNPayConfig
from gateways.vnpay_standin import API_PATH, PAY_PATH, VNPayStandIn
from tests.helpers.api import make_config
from tests.helpers.databases import sqlite_url
from tests.helpers.live_app import LiveApp, serving

TMN_CODE = "FAREGATE"
HASH_SECRET = "vnpay-test-hash-secret"
IPN_PATH = "/api/v1/payments/vnpay/ipn"


def standin() -> VNPayStandIn:
    return VNPayStandIn(TMN_CODE, HASH_SECRET)


def vnpay_config(standin_url: str) -> VNPayConfig:
    """The app's VNPay terminal at the stand-in (its pages and its querydr API); riders come back
    to the page that sent them."""
    return VNPayConfig(
        TMN_CODE,
        HASH_SECRET,
        return_url="",
        pay_url=f"{standin_url}{PAY_PATH}",
        api_url=f"{standin_url}{API_PATH}",
    )


async def pay_at_standin(pay_url: str, *, outcome: str = "paid") -> dict[str, str]:
    """Open the payment URL, choose `outcome` on the stand-in's page, and return the signed
    result VNPay puts on the rider's way back (the return URL's query)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(pay_url) as page:
            text = await page.text()
            assert page.status == 200, text
        found = re.search(r"name='payment' value='([0-9a-f]+)'", text)
        assert found is not None, text
        form = {"payment": found.group(1), "outcome": outcome}
        origin = f"{urlsplit(pay_url).scheme}://{urlsplit(pay_url).netloc}"
        async with session.post(
            f"{origin}/paymentv2/pay", data=form, allow_redirects=False
        ) as chosen:
            assert chosen.status == 302, await chosen.text()
            location = chosen.headers["Location"]
    return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))


@contextmanager
def serving_standin(stand_in: VNPayStandIn) -> Iterator[str]:
    """The stand-in on a free loopback port, its event loop in a thread (as
    `tests.helpers.live_app.serving` runs the app), until the block ends; yields its URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="vnpay-standin", daemon=True)
    thread.start()
    runner = web.AppRunner(stand_in.app())

    async def start() -> int:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return int(runner.addresses[0][1])

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


@contextmanager
def serving_with_standin(
    root: Path, localstripe: LocalStripe, stand_in: VNPayStandIn
) -> Iterator[LiveApp]:
    """A live app on SQLite under `root` whose VNPay terminal is `stand_in`, served beside it,
    which sends its IPNs to the app."""
    with serving_standin(stand_in) as standin_url:
        config = make_config(
            root, sqlite_url(root / "faregate.db"), localstripe, vnpay=vnpay_config(standin_url)
        )
        with serving(config) as live:
            stand_in.ipn_url = f"{live.url}{IPN_PATH}"
            yield live
