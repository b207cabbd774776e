"""Fixtures for gateway tests: one private localstripe per test session, and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateways.localstripe_server import LocalStripe
from gateways.stripe_gateway import StripeGateway

from .fault_proxy import FaultProxy

# The client timeout in fault tests, and a proxy delay safely past it.
CLIENT_TIMEOUT = 1.0
PROXY_DELAY = 1.5


@pytest.fixture
async def gateway(localstripe_server: LocalStripe) -> AsyncIterator[StripeGateway]:
    async with StripeGateway(localstripe_server.api_key, localstripe_server.base_url) as gw:
        yield gw


@pytest.fixture
async def fault_proxy(localstripe_server: LocalStripe) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(localstripe_server.base_url, delay=PROXY_DELAY) as proxy:
        yield proxy


@pytest.fixture
async def proxied_gateway(
    localstripe_server: LocalStripe, fault_proxy: FaultProxy
) -> AsyncIterator[StripeGateway]:
    async with StripeGateway(
        localstripe_server.api_key, fault_proxy.url, timeout=CLIENT_TIMEOUT
    ) as gw:
        yield gw
