"""For the tests of settlement runs off the request: postpaid riders with cards who rode on a
day, gateways that hold or fail a charge on cue, and a settlement runner of the test's own
(the app's runner off) so a test decides when the work runs."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, cast

from aiohttp import web

from faregate.api.context import PAYMENTS, PRICING_FEED, UOWS
from faregate.api.settlements import report_dir
from gateways.errors import GatewayOutcomeUnknown
from gateways.protocol import Gateway, Payment, PaymentRequest
from tests.helpers.payments import add_rider, ride_the_metro
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.settlement_runner import SettlementRunner


class _Wrapped:
    """A gateway that behaves as `inner` except where a subclass says."""

    def __init__(self, inner: Gateway) -> None:
        self.inner = inner
        self.payments_asked = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class HeldGateway(_Wrapped):
    """Holds the charge numbered `hold_at` (1 first) until `release` is set."""

    def __init__(self, inner: Gateway, hold_at: int) -> None:
        super().__init__(inner)
        self.hold_at = hold_at
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def create_payment(self, request: PaymentRequest) -> Payment:
        self.payments_asked += 1
        if self.payments_asked == self.hold_at:
            self.holding.set()
            await self.release.wait()
        return await self.inner.create_payment(request)


class FailingGateway(_Wrapped):
    """The gateway unreachable for the charge numbered `fail_at` (1 first), only that once."""

    def __init__(self, inner: Gateway, fail_at: int) -> None:
        super().__init__(inner)
        self.fail_at = fail_at

    async def create_payment(self, request: PaymentRequest) -> Payment:
        self.payments_asked += 1
        if self.payments_asked == self.fail_at:
            raise GatewayOutcomeUnknown("connection reset by the gateway (injected)")
        return await self.inner.create_payment(request)


def runner(app: web.Application, gateway: Any, *, concurrency: int = 1) -> SettlementRunner:
    """A settlement runner over the app's database and feed, charging through `gateway`."""
    inner = cast(Gateway, gateway)
    return SettlementRunner(
        uows=app[UOWS],
        feed=app[PRICING_FEED],
        report_dir=lambda day: report_dir(app, day),
        gateway=inner,
        payments=PaymentsService(app[UOWS], inner, gateway_name="stripe"),
        concurrency=concurrency,
    )


async def postpaid_riders(app: web.Application, day: date, count: int) -> dict[str, int]:
    """`count` postpaid riders with a saved card, each riding the metro twice on `day`; what
    each rode for."""
    uows, feed = app[UOWS], app[PRICING_FEED]
    rode: dict[str, int] = {}
    for _ in range(count):
        account, _ids = await add_rider(uows)
        await app[PAYMENTS].save_card(account, "pm_card_visa")
        rode[account] = (await ride_the_metro(uows, feed, account, day)).amount
    return rode
