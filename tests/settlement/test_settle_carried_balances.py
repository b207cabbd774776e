"""A wallet's balance carried from earlier days, on SQLite and PostgreSQL: loaded with the
customer base (`load_passengers(balances=...)`), it pays the day's fares, which settle as
collected and apportioned to the operator; the day the balances were carried settles with
nothing collected (the money was collected before the system's days, not by its gateway),
and the controls hold on both days."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.helpers.settlement import DAY, at, ride
from ticketing import postings
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.services.passengers import load_passengers, passenger_account
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
EVE = DAY - timedelta(days=1)  # the customer base is loaded the evening before


async def test_fares_paid_from_a_carried_balance_settle_as_collected(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await load_passengers(
        uow_factory, [(passenger_account("carol"), "carol")], "unused-hash",
        at=at(EVE, 20, 0), balances={"carol": Money(100_000, "VND")},
    )  # fmt: skip
    await ingest_and_price(uow_factory, feed, ride(1, "carol", DAY, 7))
    async with uow_factory() as uow:
        fares = 100_000 - (await uow.ledger.balance(accounts.wallet("carol"))).amount
    assert fares > 0

    eve = await settle(uow_factory, feed, EVE, who=ADMIN, report_dir=tmp_path / "eve")
    assert eve.summary.control_ok, eve.summary
    assert eve.summary.collected.amount == 0
    assert sum(eve.summary.apportioned.values()) == 0

    day = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "day")
    summary = day.summary
    assert summary.control_ok, summary
    assert summary.collected.amount == fares == sum(summary.apportioned.values())
    assert summary.apportioned["HMC"] == fares  # the metro's operator
    assert summary.suspense.amount.amount == 0
    async with uow_factory() as uow:
        report = await uow.ledger.check_invariants()
        assert report.ok, report
        # What the carried account holds is what the wallet was given, untouched by the days.
        held = await uow.ledger.balance(postings.COLLECTED_EARLIER)
        assert held == Money(100_000, "VND")
