"""A settlement whose gateway fails part-way, on SQLite and PostgreSQL: the run shows failed
with its error (the service the API, page and `settle --list` read), keeps its stages done,
and a retry completes it without charging anyone twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateways.errors import GatewayError
from gateways.protocol import PaymentStatus
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import Fault, FaultProxy
from tests.helpers.settlement import DAY, NEXT, postpaid_riders_who_rode, ride
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import daily_charge_key
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.charging import reconcile_with_gateway
from ticketing.services.riders import Registration, register_riders
from ticketing.services.settlement import settle
from ticketing.services.settlement_days import DayStatus, day_status
from ticketing.services.taps import ingest_and_price
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


async def test_a_lowered_days_refund_whose_answer_is_lost_is_recorded_once_by_the_retry(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    proxied_gateway: StripeGateway,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    """The late-tap refund of a charged day reaches the gateway but its answer is lost (the
    demo's late_taps fault meeting a gateway timeout): the run fails with the refund made at
    the gateway and not in the ledger; the retry finds it at the gateway and records it once,
    and the gateway's refunded total and the ledger agree."""
    payments = PaymentsService(uow_factory, proxied_gateway)
    now = datetime.now(UTC)
    rider = f"lost-refund-{now.timestamp():.0f}"
    await register_riders(
        uow_factory,
        [Registration(RiderAccount(rider, "regular", PaymentMode.POSTPAID_CARD, "VND"))],
        at=now,
    )
    await payments.save_card(rider, "pm_card_visa")
    entry, far = ride(1, rider, DAY, 7)
    await ingest_and_price(uow_factory, feed, [entry])  # the exit gate was offline
    first = await settle(
        uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "1",
        gateway=proxied_gateway, payments=payments,
    )  # fmt: skip
    assert first.summary.control_ok, first.summary
    # The exit arrives: a short ride, cheaper than the incomplete journey charged.
    await ingest_and_price(uow_factory, feed, [replace(far, stop_id="m2a_03")])

    fault_proxy.inject([Fault.DROP_RESPONSE])  # the refund is made; its answer is lost
    with pytest.raises(GatewayError):
        await settle(
            uow_factory, feed, NEXT, who=ADMIN, report_dir=tmp_path / "2",
            gateway=proxied_gateway, payments=payments,
        )  # fmt: skip
    [charge] = await proxied_gateway.find_payments(daily_charge_key(rider, DAY))
    assert charge.amount_refunded > 0  # refunded at the gateway, not yet in the ledger
    fault_proxy.clear()
    retried = await settle(
        uow_factory, feed, NEXT, who=ADMIN, report_dir=tmp_path / "3",
        gateway=proxied_gateway, payments=payments,
    )  # fmt: skip
    assert retried.summary.control_ok, retried.summary
    assert not any(retried.summary.exceptions.values()), retried.summary
    [charge] = await proxied_gateway.find_payments(daily_charge_key(rider, DAY))
    refunds = await proxied_gateway.list_refunds(now - timedelta(minutes=5), None)
    assert [r.amount for r in refunds if r.payment_id == charge.id] == [charge.amount_refunded]
    checked = await reconcile_with_gateway(uow_factory, payments, proxied_gateway)
    assert checked.matches, checked
