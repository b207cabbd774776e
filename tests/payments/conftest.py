"""Fixtures for the payment flows: localstripe (the shared helper), a fault proxy in front of
it, and a PaymentsService on the per-test database of tests/conftest.py (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateways.localstripe_server import LocalStripe
from gateways.stripe_gateway import StripeGateway
from tests.gateways.fault_proxy import FaultProxy
from ticketing.db.models import CredentialRow, RiderAccountRow
from ticketing.payments.service import PaymentsService
from ticketing.riders import AccountStatus, PaymentMode
from ticketing.unit_of_work import UnitOfWorkFactory

WEBHOOK_SECRET = "whsec_payments_tests"
CLIENT_TIMEOUT = 0.4
PROXY_DELAY = 0.6


@pytest.fixture
async def fault_proxy(localstripe_server: LocalStripe) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(localstripe_server.base_url, delay=PROXY_DELAY) as proxy:
        yield proxy


@pytest.fixture
async def gateway(
    localstripe_server: LocalStripe, fault_proxy: FaultProxy
) -> AsyncIterator[StripeGateway]:
    """The gateway as the service sees it: through the (idle unless told) fault proxy."""
    async with StripeGateway(
        localstripe_server.api_key, fault_proxy.url, timeout=CLIENT_TIMEOUT
    ) as gw:
        yield gw


@pytest.fixture
def payments(uow_factory: UnitOfWorkFactory, gateway: StripeGateway) -> PaymentsService:
    return PaymentsService(uow_factory, gateway, webhook_secret=WEBHOOK_SECRET)


async def add_rider(
    uow_factory: UnitOfWorkFactory, *, debt_limit: int = 0, credentials: int = 2
) -> tuple[str, list[int]]:
    """A postpaid rider account with live credentials, written straight to the tables."""
    account_id = "acc-" + secrets.token_hex(6)
    now = datetime.now(UTC)
    ids = [secrets.randbits(64) for _ in range(credentials)]
    async with uow_factory() as uow:
        uow.session.add(
            RiderAccountRow(
                id=account_id,
                rider_category="adult",
                status=AccountStatus.ACTIVE,
                payment_mode=PaymentMode.POSTPAID_CARD,
                currency="VND",
                overdraft_limit=0,
                debt_limit=debt_limit,
                created_at=now,
                updated_at=now,
            )
        )
        await uow.session.flush()
        for credential_id in ids:
            uow.session.add(
                CredentialRow(
                    credential_id=credential_id,
                    account_id=account_id,
                    valid_from=now,
                    valid_until=now + timedelta(days=365),
                    issued_at=now,
                )
            )
        await uow.commit()
    return account_id, ids
