"""A service day nobody rode, on SQLite and PostgreSQL: monthly passes in force and a parking
fee settle on it (no error), pass revenue apportioned by the documented fallback (the
operators of the routes the product covers when its holders did not ride lately), a pass sold
that day counted from that day, and the controls hold."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.helpers.settlement import DAY, at, ride
from tests.wallets import open_funded_wallets
from ticketing import postings
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.services.riders import buy_pass
from ticketing.services.settlement import settle
from ticketing.services.settlement_days import DayStatus, list_days
from ticketing.services.taps import ingest_and_price
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
QUIET = DAY + timedelta(days=1)  # a Tết holiday: nobody rides


async def test_a_rideless_day_with_passes_and_parking_settles_and_its_controls_hold(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice", "bob"], 1_000_000)
        await uow.commit()
    await buy_pass(uow_factory, feed, "alice", "m2a_month", at=at(DAY, 6, 0))
    await ingest_and_price(uow_factory, feed, ride(1, "alice", DAY, 7))  # a pass ride on DAY
    await buy_pass(uow_factory, feed, "bob", "bus_month_all", at=at(QUIET, 9, 0))  # sold that day
    async with uow_factory() as uow:  # bob parks for 25,000 at the Vincom car park
        await uow.ledger.post(
            postings.parking_fee(
                "parking:vincom-1", operator_id="lots-co",
                payers=[(accounts.wallet("bob"), 25_000)], currency="VND",
                session_id="vincom-1", lot_id="vincom", at=at(QUIET, 18, 30),
            )
        )  # fmt: skip
        await uow.commit()
    first = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "day")
    assert first.summary.control_ok
    listed = {d.day: d for d in await list_days(uow_factory)}
    assert listed[QUIET].status is DayStatus.CLOSED  # in the calendar, though nobody rode

    outcome = await settle(uow_factory, feed, QUIET, who=ADMIN, report_dir=tmp_path / "quiet")
    summary = outcome.summary
    assert summary.control_ok, summary
    assert summary.taps == 0
    assert summary.apportioned["lots-co"] == 25_000
    # m2a_month: alice rode the metro lately -> HMC; bus_month_all, sold today and never
    # ridden -> the operator of the bus networks it covers
    assert summary.apportioned["HMC"] > 0
    assert summary.apportioned["TRANSERCO"] > 0
    assert sum(summary.apportioned.values()) == summary.collected.amount
    assert {d.day: d.status for d in await list_days(uow_factory)}[QUIET] is DayStatus.SETTLED
