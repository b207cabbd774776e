"""Fixtures for the payment flows: a PaymentsService on the per-test database of
tests/conftest.py (SQLite and PostgreSQL) and the session's localstripe, directly (`payments`,
`gateway`) or, for the fault tests, through a fault proxy with a short client timeout
(`proxied_payments`, `proxied_gateway`, `fault_proxy`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from faregate_data import HANOI_FEED
from gateways.localstripe_server import LocalStripe
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import CLIENT_TIMEOUT, FaultProxy
from tests.helpers.payments import WEBHOOK_SECRET
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.payment_flows.service import PaymentsService
from ticketing.unit_of_work import UnitOfWorkFactory


@pytest.fixture
async def gateway(localstripe_server: LocalStripe) -> AsyncIterator[StripeGateway]:
    async with StripeGateway(localstripe_server.api_key, localstripe_server.base_url) as gw:
        yield gw


@pytest.fixture
def payments(uow_factory: UnitOfWorkFactory, gateway: StripeGateway) -> PaymentsService:
    return PaymentsService(uow_factory, gateway, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
async def fault_proxy(localstripe_server: LocalStripe) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(localstripe_server.base_url) as proxy:
        yield proxy


@pytest.fixture
async def proxied_gateway(
    localstripe_server: LocalStripe, fault_proxy: FaultProxy
) -> AsyncIterator[StripeGateway]:
    """The gateway as the service sees it, through the (idle unless told) fault proxy."""
    async with StripeGateway(
        localstripe_server.api_key, fault_proxy.url, timeout=CLIENT_TIMEOUT
    ) as gw:
        yield gw


@pytest.fixture
def proxied_payments(
    uow_factory: UnitOfWorkFactory, proxied_gateway: StripeGateway
) -> PaymentsService:
    return PaymentsService(uow_factory, proxied_gateway, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture(scope="session")
def hanoi() -> FareFeed:
    return load_feed(HANOI_FEED)
