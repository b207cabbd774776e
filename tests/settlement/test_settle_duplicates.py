"""A late request that slipped past a daily charge's timeout: settlement ends the account-day
charged once (the duplicate voided before reconciling) and reports the duplicate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateways.errors import GatewayTimeout
from gateways.localstripe_server import LocalStripe, localstripe
from gateways.protocol import PaymentStatus
from gateways.stripe_gateway import StripeGateway
from tests.helpers.fault_proxy import CLIENT_TIMEOUT, FaultProxy, RequestFault
from tests.helpers.settlement import DAY, ride
from ticketing.audit import Actor
from ticketing.db.settlement_models import SettlementExceptionRow
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import daily_charge_key
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.charging import amounts_owed
from ticketing.services.riders import Registration, register_riders
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LocalStripe]:
    """A private localstripe: the reconcile stage lists every payment it holds."""
    async with localstripe(tmp_path / "localstripe", from_scratch=True) as running:
        yield running


@pytest.fixture
async def fault_proxy(server: LocalStripe) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(server.base_url) as proxy:
        yield proxy


@pytest.fixture
async def gateway(server: LocalStripe, fault_proxy: FaultProxy) -> AsyncIterator[StripeGateway]:
    async with StripeGateway(server.api_key, fault_proxy.url, timeout=CLIENT_TIMEOUT) as gw:
        yield gw


async def test_a_late_duplicate_charge_is_voided_and_reported(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    gateway: StripeGateway,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    payments = PaymentsService(uow_factory, gateway)
    now = datetime.now(UTC)
    accounts = [f"dup-{n}-{now.timestamp():.0f}" for n in range(2)]
    await register_riders(
        uow_factory,
        [
            Registration(
                RiderAccount(a, "regular", PaymentMode.POSTPAID_CARD, "VND"),
                [CredentialRecord(700 + n, a, now, now + timedelta(days=365), now)],
            )
            for n, a in enumerate(accounts)
        ],
        at=now,
    )
    for account in accounts:
        await payments.save_card(account, "pm_card_visa")
    await ingest_and_price(
        uow_factory, feed, [t for n, a in enumerate(accounts) for t in ride(1, a, DAY, 7 + n)]
    )
    late_account = accounts[0]
    owed = (await amounts_owed(uow_factory, [late_account]))[late_account]

    # An earlier charge run's first request is held in the network; its retry charges.
    fault_proxy.inject([RequestFault.DELAY])
    with pytest.raises(GatewayTimeout):
        await payments.charge_day(late_account, DAY, owed)
    kept = await payments.charge_day(late_account, DAY, owed)
    await fault_proxy.drain()  # the held request reaches the gateway: a second authorisation
    key = daily_charge_key(late_account, DAY)
    [late] = [p for p in await gateway.find_payments(key) if p.id != kept.gateway_payment_id]
    assert late.status is PaymentStatus.REQUIRES_CAPTURE

    outcome = await settle(
        uow_factory,
        feed,
        DAY,
        who=ADMIN,
        report_dir=tmp_path / "r",
        gateway=gateway,
        payments=payments,
    )

    summary = outcome.summary
    assert {k: n for k, n in summary.exceptions.items() if n} == {"duplicate": 1}
    assert summary.control_ok is True
    assert summary.suspense.amount.amount == 0
    for account in accounts:
        at_gateway = await gateway.find_payments(daily_charge_key(account, DAY))
        charged = [p for p in at_gateway if p.status is PaymentStatus.SUCCEEDED]
        assert len(charged) == 1, at_gateway
    assert (await gateway.retrieve_payment(late.id)).status is PaymentStatus.CANCELED
    async with uow_factory() as uow:
        [row] = (
            await uow.session.scalars(
                select(SettlementExceptionRow).where(SettlementExceptionRow.kind == "duplicate")
            )
        ).all()
        assert (row.amount, row.currency, row.suspense) == (owed.amount, owed.currency, 0)
        assert row.resolved_on == DAY
        assert (row.detail["gateway_ref"], row.detail["charge_key"]) == (late.id, key)
        assert row.detail["action"] == "voided"
