"""Reconciliation matches the gateway's records to the ledger's by id, whatever clock stamped
them: the demo runs the server on a simulated November day while localstripe stamps real time,
and `faregate settle` afterwards (on the real clock) put the demo's payments in suspense again.

Here the ledger's clock is days away from the gateway's (the in-memory gateway's, real time):
each payment is reconciled once, by the run whose period the ledger has it in; a payment the
ledger never saw is flagged once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from gateways.protocol import PaymentRequest
from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.settlement import DAY, NEXT, at, ride
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.settlement.summary import SettlementSummary
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
RIDERS = ("amy", "bao")


class SimulatedClock:
    """The ledger's clock, set by the test (the demo's simulated day)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def found(summary: SettlementSummary) -> dict[str, int]:
    """The exceptions the run found, by kind (the summary lists every kind)."""
    return {kind: n for kind, n in summary.exceptions.items() if n}


async def test_a_gateway_on_another_clock_reconciles_each_payment_once(
    engine: AsyncEngine, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    clock = SimulatedClock(at(DAY, 6, 0))
    uows = UnitOfWorkFactory(engine, clock=clock)
    payments = PaymentsService(uows, gateway)
    since = at(DAY, 0, 0) - timedelta(days=30)
    await register_riders(
        uows,
        [
            Registration(
                RiderAccount(rider, "regular", PaymentMode.POSTPAID_CARD, "VND"),
                [CredentialRecord(700 + n, rider, since, since + timedelta(days=365), since)],
            )
            for n, rider in enumerate(RIDERS)
        ],
        at=clock(),
    )
    for rider in RIDERS:
        await payments.save_card(rider, "pm_card_visa")

    async def settle_day(day: date, hour: int, uows: UnitOfWorkFactory) -> SettlementSummary:
        seq = 10 * (day - DAY).days
        taps = [
            t for n, rider in enumerate(RIDERS) for t in ride(seq + 2 * n, rider, day, hour + n)
        ]
        await ingest_and_price(uows, feed, taps)
        clock.now = at(day + timedelta(days=1), 5, 0)
        outcome = await settle(
            uows, feed, day, who=ADMIN, report_dir=tmp_path / day.isoformat(),
            gateway=gateway, payments=payments,
        )  # fmt: skip
        return outcome.summary

    first = await settle_day(DAY, 7, uows)
    assert found(first) == {}, first
    assert first.control_ok, first
    # A payment made at the gateway that the ledger never saw (a dashboard charge, say).
    async with uows() as uow:
        card = await uow.payments.saved_card("amy")
    assert card is not None
    stray = await gateway.create_payment(
        PaymentRequest(card.customer_id, card.payment_method_id, 5_000, "VND", "stray-clock")
    )
    second = await settle_day(NEXT, 8, uows)
    # The first day's payments are listed again (the gateway's clock is weeks ahead of the
    # ledger's periods) but reconciled by the run whose period has them: only the stray is new.
    assert (second.taps, second.charges) == (4, 2)
    assert found(second) == {"unknown_at_gateway": 1}, second
    assert second.suspense.amount.amount == stray.amount
    assert second.control_ok, second

    # `faregate settle` afterwards, on the real clock: nothing is reconciled again.
    real = UnitOfWorkFactory(engine)
    third = await settle(
        real, feed, NEXT + timedelta(days=1), who=ADMIN, report_dir=tmp_path / "real",
        gateway=gateway, payments=PaymentsService(real, gateway),
    )  # fmt: skip
    # The stray is still open (looked at again, as every open exception is), nothing moved.
    assert found(third.summary) == {"unknown_at_gateway": 1}, third.summary
    assert third.summary.suspense.amount.amount == stray.amount
    assert third.summary.suspense.moved == 0
