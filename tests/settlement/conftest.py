"""Fixtures of the settlement run's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from faregate_data import HANOI_FEED
from gateways.localstripe_server import LocalStripe, localstripe
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import CLIENT_TIMEOUT, FaultProxy
from ticketing.fares.feed import FareFeed, load_feed


@pytest.fixture(scope="module")
def feed() -> FareFeed:
    return load_feed(HANOI_FEED)


@pytest.fixture
async def private_localstripe(tmp_path: Path) -> AsyncIterator[LocalStripe]:
    """A localstripe of the test's own: the reconcile stage lists every payment it holds."""
    async with localstripe(tmp_path / "localstripe", from_scratch=True) as running:
        yield running


@pytest.fixture
async def fault_proxy(private_localstripe: LocalStripe) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(private_localstripe.base_url) as proxy:
        yield proxy


@pytest.fixture
async def proxied_gateway(
    private_localstripe: LocalStripe, fault_proxy: FaultProxy
) -> AsyncIterator[StripeGateway]:
    """The private localstripe as settlement sees it: through the (idle unless told) proxy."""
    async with StripeGateway(
        private_localstripe.api_key, fault_proxy.url, timeout=CLIENT_TIMEOUT
    ) as gw:
        yield gw
