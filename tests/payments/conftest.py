"""Fixtures for the payment flows: a PaymentsService on the per-test database of
tests/conftest.py (SQLite and PostgreSQL) and the in-memory gateway (`payments`, on `gateway`:
`tests.helpers.fake_gateway`) or, for the fault tests, the session's localstripe through its
fault proxy (`proxied_payments`, on `proxied_gateway`)."""

from __future__ import annotations

import pytest

from faregate_data import HANOI_FEED
from gateways.stripe_gateway import StripeGateway
from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.payments import WEBHOOK_SECRET
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.payment_flows.service import PaymentsService
from ticketing.unit_of_work import UnitOfWorkFactory


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def payments(uow_factory: UnitOfWorkFactory, gateway: FakeGateway) -> PaymentsService:
    return PaymentsService(uow_factory, gateway, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
def proxied_payments(
    uow_factory: UnitOfWorkFactory, proxied_gateway: StripeGateway
) -> PaymentsService:
    return PaymentsService(uow_factory, proxied_gateway, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture(scope="session")
def hanoi() -> FareFeed:
    return load_feed(HANOI_FEED)
