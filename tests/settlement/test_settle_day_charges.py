"""Each charge is its own day's fares, on SQLite and PostgreSQL, through the in-memory gateway.

The issue's rider: postpaid, rides on the first day, buys a monthly bus pass the next, rides
again the day after; the first day's settlement charged the whole receivable (both days and
the pass). Now the pass is paid at purchase, each day's charge is exactly that day's fares
(and named so), a late tap of a charged day is charged as that day's adjustment, and the
run's charges control holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from gateways.protocol import PaymentStatus
from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.settlement import DAY, at, park, ride, rider_with_card
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import (
    AttemptStatus,
    PaymentPurpose,
    adjustment_charge_key,
    daily_charge_key,
    parking_charge_key,
)
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.charging import reconcile_with_gateway
from ticketing.services.passengers import charges
from ticketing.services.riders import Registration, buy_pass, register_riders
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.settlement.summary import SettlementSummary
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
FIRST, SECOND, THIRD = DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)


async def settle_day(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    day: date,
    report_dir: Path,
    gateway: FakeGateway,
    payments: PaymentsService,
) -> SettlementSummary:
    """Settles `day` as an administrator; its controls must hold."""
    outcome = await settle(
        uows, feed, day, who=ADMIN, report_dir=report_dir, gateway=gateway, payments=payments
    )
    assert outcome.summary.control_ok, outcome.summary
    return outcome.summary


async def fares_of(uows: UnitOfWorkFactory, account: str, day: date) -> int:
    """The latest price of the account's day (all on its receivable: postpaid)."""
    async with uows() as uow:
        priced = await uow.pricing.latest(account, day)
        assert priced is not None
        return await uow.settlement_day.receivable_part(account, day, priced.version)


async def test_each_days_charge_is_that_days_fares_and_a_pass_is_paid_at_purchase(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    payments = PaymentsService(uow_factory, gateway)
    rider = f"postpaid-{datetime.now(UTC).timestamp():.0f}"
    await rider_with_card(uow_factory, payments, rider, credential=900)
    await ingest_and_price(uow_factory, feed, ride(1, rider, FIRST, 7))
    sale = await buy_pass(
        uow_factory, feed, rider, "bus_month_all", at=at(SECOND, 9, 0), payments=payments
    )
    await ingest_and_price(uow_factory, feed, ride(5, rider, THIRD, 8))
    first_fares = await fares_of(uow_factory, rider, FIRST)
    third_fares = await fares_of(uow_factory, rider, THIRD)
    assert first_fares > 0
    assert third_fares > 0

    # the pass was paid by card at purchase: the receivable owes only the two days' fares
    async with uow_factory() as uow:
        owed = await uow.ledger.balance(accounts.receivable(rider))
    assert owed.amount == first_fares + third_fares
    [pass_payment] = [
        c for c in await charges(uow_factory, rider) if c.purpose is PaymentPurpose.PASS_PURCHASE
    ]
    assert (pass_payment.amount, pass_payment.status) == (sale.price, AttemptStatus.SUCCEEDED)
    assert pass_payment.covers == "Pass bus_month_all"

    await settle_day(uow_factory, feed, FIRST, tmp_path / "1", gateway, payments)
    charged = {c.attempt_id: c for c in await charges(uow_factory, rider)}
    day_charge = charged[daily_charge_key(rider, FIRST)]
    assert (day_charge.amount.amount, day_charge.status) == (first_fares, AttemptStatus.SUCCEEDED)
    assert day_charge.covers == f"Fares of {FIRST.strftime('%a %-d %b %Y')}"
    [at_gateway] = await gateway.find_payments(daily_charge_key(rider, FIRST))
    assert (at_gateway.amount, at_gateway.status) == (first_fares, PaymentStatus.SUCCEEDED)

    # a tap of the first day arrives after it was charged: that day's adjustment, named so
    await ingest_and_price(uow_factory, feed, ride(7, rider, FIRST, 17))
    later = await fares_of(uow_factory, rider, FIRST)
    await settle_day(uow_factory, feed, SECOND, tmp_path / "2", gateway, payments)
    await settle_day(uow_factory, feed, THIRD, tmp_path / "3", gateway, payments)

    charged = {c.attempt_id: c for c in await charges(uow_factory, rider)}
    async with uow_factory() as uow:
        version = (await uow.pricing.latest(rider, FIRST)).version  # type: ignore[union-attr]
    adjustment = charged[adjustment_charge_key(rider, FIRST, version)]
    assert adjustment.amount.amount == later - first_fares > 0
    assert adjustment.service_day == FIRST
    assert "adjustment" in adjustment.covers
    assert charged[daily_charge_key(rider, THIRD)].amount.amount == third_fares
    assert daily_charge_key(rider, SECOND) not in charged  # nothing ridden: nothing charged
    async with uow_factory() as uow:
        assert (await uow.ledger.balance(accounts.receivable(rider))).amount == 0


async def test_a_postpaid_rider_who_only_parked_is_charged_the_fee_on_its_own_line(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    payments = PaymentsService(uow_factory, gateway)
    rider = f"parker-{datetime.now(UTC).timestamp():.0f}"
    await rider_with_card(uow_factory, payments, rider)
    # no ride: one stay at the car park, on the receivable
    await park(uow_factory, rider, "vincom-9", 25_000, at(FIRST, 18, 30))
    await settle_day(uow_factory, feed, FIRST, tmp_path / "p", gateway, payments)
    charged = {c.attempt_id: c for c in await charges(uow_factory, rider)}
    line = charged[parking_charge_key(rider, FIRST)]
    assert (line.amount.amount, line.status) == (25_000, AttemptStatus.SUCCEEDED)
    assert line.covers.startswith("Parking of ")
    assert daily_charge_key(rider, FIRST) not in charged  # no fares: no fares line
    async with uow_factory() as uow:
        assert (await uow.ledger.balance(accounts.receivable(rider))).amount == 0


async def test_parking_whose_charge_is_declined_is_held_as_uncollected_not_reported_collected(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    payments = PaymentsService(uow_factory, gateway)
    rider = f"parker-{datetime.now(UTC).timestamp():.0f}"
    # saved, declines charges
    await rider_with_card(uow_factory, payments, rider, "pm_card_chargeCustomerFail")
    await park(uow_factory, rider, "vincom-8", 25_000, at(FIRST, 18, 30))
    summary = await settle_day(uow_factory, feed, FIRST, tmp_path / "p", gateway, payments)
    charged = {c.attempt_id: c for c in await charges(uow_factory, rider)}
    assert charged[parking_charge_key(rider, FIRST)].status is AttemptStatus.FAILED
    assert summary.apportioned.get("lots-co", 0) == 0  # not reported collected
    assert summary.collected.amount == 0
    assert summary.exceptions.get("uncollected_parking") == 1


async def test_a_late_exit_that_lowers_a_charged_day_is_refunded_as_that_days_adjustment(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    """The rider's exit tap of the first day reaches the backend after the day was charged
    (the gate was offline): the journey priced as incomplete is now a full ride, cheaper. The
    next run refunds the difference to the card from the first day's charge, named as that
    day's adjustment; the rider's own next day is charged exactly its fares (the credit is not
    folded into it), and the controls hold."""
    payments = PaymentsService(uow_factory, gateway)
    rider = f"lowered-{datetime.now(UTC).timestamp():.0f}"
    await rider_with_card(uow_factory, payments, rider)
    entry, far = ride(1, rider, FIRST, 7)
    exit_ = replace(far, stop_id="m2a_03")  # a short ride: the incomplete journey cost more
    await ingest_and_price(uow_factory, feed, [entry])
    incomplete = await fares_of(uow_factory, rider, FIRST)
    await settle_day(uow_factory, feed, FIRST, tmp_path / "1", gateway, payments)

    await ingest_and_price(uow_factory, feed, [exit_, *ride(3, rider, SECOND, 8)])
    complete = await fares_of(uow_factory, rider, FIRST)
    assert 0 < complete < incomplete
    second_fares = await fares_of(uow_factory, rider, SECOND)
    second = await settle_day(uow_factory, feed, SECOND, tmp_path / "2", gateway, payments)
    assert second.adjustments == 1

    charged = {c.attempt_id: c for c in await charges(uow_factory, rider)}
    assert charged[daily_charge_key(rider, SECOND)].amount.amount == second_fares
    async with uow_factory() as uow:
        version = (await uow.pricing.latest(rider, FIRST)).version  # type: ignore[union-attr]
        refund = await uow.payments.refund(f"{adjustment_charge_key(rider, FIRST, version)}:refund")
        owed = await uow.ledger.balance(accounts.receivable(rider))
    assert refund is not None
    assert (refund.attempt_id, refund.amount.amount) == (
        daily_charge_key(rider, FIRST),
        incomplete - complete,
    )
    [at_gateway] = await gateway.find_payments(daily_charge_key(rider, FIRST))
    assert at_gateway.amount_refunded == incomplete - complete
    assert owed.amount == 0  # nothing owed, nothing owed to the rider
    # The partial refund reconciles exactly: the second run's reconciliation matched it (no
    # exception, no cash difference), and the gateway's net of refunds is the clearing account
    # (the demo's money check).
    assert not any(second.exceptions.values()), second
    async with uow_factory() as uow:
        record = await uow.settlement.day(SECOND)
    assert record is not None
    assert record.reconciliation is not None
    assert record.reconciliation.cash_difference == 0
    checked = await reconcile_with_gateway(uow_factory, payments, gateway)
    assert checked.matches, checked


async def test_a_top_up_that_pays_part_of_a_charged_day_leaves_the_charges_control_quiet(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    """A prepaid rider with an empty wallet rides: the day's fares go on the receivable and
    its settlement charges the card. The rider tops up; a late tap of that day prices it again
    and the wallet now pays part of it, so the receivable's part falls. That part is refunded
    from the day's card charge (the day's adjustment), and the next day's charge is exactly
    that day's fares: the charges control no longer names the rider."""
    payments = PaymentsService(uow_factory, gateway)
    rider = f"topped-{datetime.now(UTC).timestamp():.0f}"
    await rider_with_card(uow_factory, payments, rider, mode=PaymentMode.PREPAID_WALLET)
    await ingest_and_price(uow_factory, feed, ride(1, rider, FIRST, 7))
    on_card = await fares_of(uow_factory, rider, FIRST)
    assert on_card > 0  # the empty wallet paid nothing of it
    await settle_day(uow_factory, feed, FIRST, tmp_path / "1", gateway, payments)

    await payments.top_up(rider, Money(20_000, "VND"), request_id="after-first")
    await ingest_and_price(uow_factory, feed, ride(3, rider, FIRST, 17))  # late: wallet pays
    now_on_card = await fares_of(uow_factory, rider, FIRST)
    assert now_on_card < on_card
    await ingest_and_price(uow_factory, feed, ride(5, rider, SECOND, 8))  # wallet empty again
    second_fares = await fares_of(uow_factory, rider, SECOND)
    assert second_fares > 0
    await settle_day(uow_factory, feed, SECOND, tmp_path / "2", gateway, payments)
    charged = {c.attempt_id: c for c in await charges(uow_factory, rider)}
    assert charged[daily_charge_key(rider, SECOND)].amount.amount == second_fares
    [at_gateway] = await gateway.find_payments(daily_charge_key(rider, FIRST))
    assert at_gateway.amount_refunded == on_card - now_on_card
    async with uow_factory() as uow:
        assert (await uow.ledger.balance(accounts.receivable(rider))).amount == 0


async def test_a_rider_with_no_card_to_charge_is_held_uncollected_not_a_failed_run(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    """A prepaid rider whose wallet is empty rides (the fare goes on the receivable) and has
    no card on file: the charge stage cannot charge the day, and used to fail the whole run
    (`NoSavedCard`) for every rider. The day is held as uncollected instead, the others are
    charged, and the controls hold."""
    payments = PaymentsService(uow_factory, gateway)
    now = datetime.now(UTC)
    walletless, carded = f"no-card-{now.timestamp():.0f}", f"card-{now.timestamp():.0f}"
    await register_riders(
        uow_factory,
        [Registration(RiderAccount(walletless, "regular", PaymentMode.PREPAID_WALLET, "VND"))],
        at=now,
    )
    await rider_with_card(uow_factory, payments, carded)
    await ingest_and_price(
        uow_factory, feed, [*ride(1, walletless, FIRST, 7), *ride(3, carded, FIRST, 8)]
    )
    summary = await settle_day(uow_factory, feed, FIRST, tmp_path / "r", gateway, payments)
    assert summary.charges == 1
    assert summary.exceptions.get("uncollected") == 1, summary
    charged = {c.attempt_id for c in await charges(uow_factory, carded)}
    assert daily_charge_key(carded, FIRST) in charged
    assert await charges(uow_factory, walletless) == []
