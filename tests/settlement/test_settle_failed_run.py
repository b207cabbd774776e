"""A settlement whose gateway fails part-way, on SQLite and PostgreSQL: the run shows failed
with its error (the service the API, page and `settle --list` read), keeps its stages done,
and a retry completes it without charging anyone twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateways.errors import GatewayError
from gateways.protocol import PaymentStatus
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import Fault, FaultProxy
from tests.helpers.settlement import DAY, postpaid_riders_who_rode
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import daily_charge_key
from ticketing.services.settlement import settle
from ticketing.services.settlement_days import DayStatus, day_status
from ticketing.settlement.states import Stage
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")


async def test_a_run_whose_gateway_fails_part_way_shows_failed_and_a_retry_charges_once(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    proxied_gateway: StripeGateway,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    payments = PaymentsService(uow_factory, proxied_gateway)
    riders = await postpaid_riders_who_rode(
        uow_factory, payments, feed, prefix="fail", count=3, first_credential=800
    )
    # The first rider's charge goes through (authorise, capture); then the gateway fails.
    fault_proxy.inject([Fault.PASS, Fault.PASS, *[Fault.ERROR_500] * 20])
    with pytest.raises(GatewayError):
        await settle(
            uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "a",
            gateway=proxied_gateway, payments=payments,
        )  # fmt: skip
    failed = await day_status(uow_factory, DAY)
    assert failed is not None
    assert failed.status is DayStatus.FAILED
    assert failed.state == f"failed ({Stage.PRICED})"  # the stages done are kept
    assert failed.error is not None
    assert failed.error.startswith(f"{Stage.CHARGED} stage failed")
    async with uow_factory() as uow:
        record = await uow.settlement.day(DAY)
    assert record is not None
    assert record.stage is Stage.PRICED

    fault_proxy.clear()
    outcome = await settle(
        uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "b",
        gateway=proxied_gateway, payments=payments,
    )  # fmt: skip
    assert outcome.summary.control_ok, outcome.summary
    assert outcome.summary.charges == 3
    done = await day_status(uow_factory, DAY)
    assert done is not None
    assert (done.status, done.error) == (DayStatus.SETTLED, None)
    for account in riders:
        at_gateway = await proxied_gateway.find_payments(daily_charge_key(account, DAY))
        succeeded = [p for p in at_gateway if p.status is PaymentStatus.SUCCEEDED]
        assert len(succeeded) == 1, (account, at_gateway)
