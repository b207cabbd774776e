"""A late request that slipped past a daily charge's timeout: settlement ends the account-day
charged once (the duplicate voided before reconciling) and reports the duplicate."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gateways.errors import GatewayTimeout
from gateways.protocol import PaymentStatus
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import FaultProxy, RequestFault
from tests.helpers.settlement import DAY, postpaid_riders_who_rode
from ticketing.audit import Actor
from ticketing.db.settlement_models import SettlementExceptionRow
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import daily_charge_key
from ticketing.services.charging import amounts_owed
from ticketing.services.settlement import settle
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")


async def test_a_late_duplicate_charge_is_voided_and_reported(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    proxied_gateway: StripeGateway,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    payments = PaymentsService(uow_factory, proxied_gateway)
    accounts = await postpaid_riders_who_rode(
        uow_factory, payments, feed, prefix="dup", count=2, first_credential=700
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
    [late] = [
        p for p in await proxied_gateway.find_payments(key) if p.id != kept.gateway_payment_id
    ]
    assert late.status is PaymentStatus.REQUIRES_CAPTURE

    outcome = await settle(
        uow_factory,
        feed,
        DAY,
        who=ADMIN,
        report_dir=tmp_path / "r",
        gateway=proxied_gateway,
        payments=payments,
    )

    summary = outcome.summary
    assert {k: n for k, n in summary.exceptions.items() if n} == {"duplicate": 1}
    assert summary.control_ok is True
    assert summary.suspense.amount.amount == 0
    for account in accounts:
        at_gateway = await proxied_gateway.find_payments(daily_charge_key(account, DAY))
        charged = [p for p in at_gateway if p.status is PaymentStatus.SUCCEEDED]
        assert len(charged) == 1, at_gateway
    assert (await proxied_gateway.retrieve_payment(late.id)).status is PaymentStatus.CANCELED
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
