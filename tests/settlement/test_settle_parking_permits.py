"""A monthly parking permit bought from a wallet is the lot operator's parking revenue on the
day of sale: apportioned to that operator, counted in the money collected, the controls hold."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.settlement import DAY, NEXT, at, ride
from tests.wallets import open_funded_wallets
from ticketing import postings
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.money import Money
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")


async def test_a_permit_sold_is_the_lot_operators_revenue_that_day(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice"], 3_000_000)
        account = await uow.riders.get_account("alice")
        for permit, day in (("street:2026-12:plate-30A12345", DAY), ("street:2027-01:x", NEXT)):
            await uow.ledger.post(
                postings.parking_permit_sale(
                    account, permit, operator_id="lots-co", lot_id="street",
                    price=Money(1_000_000, "VND"), at=at(day, 10, 0),
                )
            )  # fmt: skip
        await uow.commit()
    await ingest_and_price(uow_factory, feed, ride(1, "alice", DAY, 7))
    outcome = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path)
    summary = outcome.summary
    assert summary.control_ok, summary
    assert summary.apportioned["lots-co"] == 1_000_000  # the next day's is not counted
    assert sum(summary.apportioned.values()) == summary.collected.amount
    async with uow_factory() as uow:
        record = await uow.settlement.day(DAY)
    assert record is not None
    assert record.figures is not None
    lots = next(s for s in record.figures["statements"] if s["operator"] == "lots-co")
    assert (lots["rides"], lots["gross"]) == (1, 1_000_000)
    assert record.figures["revenue_by_hour"]["10"] == 1_000_000
