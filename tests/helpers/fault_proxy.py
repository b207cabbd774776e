"""The gateway client of the fault tests: a `StripeGateway` through a `FaultProxy` that times
out exactly the requests the proxy holds (a DELAY fault), at the moment it holds them, and
waits for every other answer as long as a gateway client normally does.

A short timeout on every request (as the fault tests had: 1 s) made requests no fault touched
time out on a loaded machine; a timeout the client works out from the proxy's own signal
cannot, and a held request no longer costs the test a second of waiting either.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping
from typing import Any

import httpx
import stripe

from gateways.stripe_gateway import DEFAULT_TIMEOUT, StripeGateway
from simulators.fault_proxy import TAG_HEADER, FaultProxy


class _GivesUpWhenHeld(stripe.HTTPXClient):
    """The SDK's httpx client, answering a request the proxy holds as a timed-out one."""

    def __init__(self, proxy: FaultProxy) -> None:
        super().__init__(timeout=DEFAULT_TIMEOUT)
        self._fault_proxy = proxy
        self._tags = itertools.count()

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        tag = str(next(self._tags))
        tagged = {**headers, TAG_HEADER: tag}
        with self._fault_proxy.watching(tag) as held:
            answer = asyncio.ensure_future(super().request_async(method, url, tagged, post_data))
            given_up = asyncio.ensure_future(held.wait())
            try:
                await asyncio.wait({answer, given_up}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                given_up.cancel()
            if answer.done():
                return answer.result()
            answer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answer
        # What the SDK raises when httpx times out, so the adapter translates it as it would.
        raise stripe.APIConnectionError("the fault proxy holds the request") from httpx.ReadTimeout(
            "held by the fault proxy"
        )


def gateway_through(proxy: FaultProxy, api_key: str) -> StripeGateway:
    """A gateway whose requests go through `proxy`; those it holds time out at once."""
    return StripeGateway(api_key, proxy.url, http_client=_GivesUpWhenHeld(proxy))
