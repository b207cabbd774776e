"""Money held back as uncollected is released when it is collected, and a day's revenue by
hour is what it collected; on SQLite and PostgreSQL, through the in-memory gateway.

A postpaid rider whose card declines rides and parks on the first day: the day's fares and
the car park's fee are held back (exceptions `uncollected`, `uncollected_parking`), and the
report's revenue by hour leaves them out like the money control does. The rider then saves a
working card and the declined lines are retried: the next day's run apportions both, the
parking fee to the lot's operator in a pool naming the day it was parked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.settlement import DAY, at, park, ride, rider_with_card
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import AttemptStatus
from ticketing.services.settlement import settle
from ticketing.services.settlement_drilldown import operator_drilldown
from ticketing.services.taps import ingest_and_price
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
FIRST, SECOND = DAY, DAY + timedelta(days=1)


async def figures(uows: UnitOfWorkFactory, day: date) -> dict[str, Any]:
    async with uows() as uow:
        record = await uow.settlement.day(day)
    assert record is not None
    assert record.figures is not None
    return record.figures


async def test_held_parking_is_released_to_the_lot_when_collected_and_hours_show_collected(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    payments = PaymentsService(uow_factory, gateway)
    stamp = f"{datetime.now(UTC).timestamp():.0f}"
    declined, paying = f"declined-{stamp}", f"paying-{stamp}"
    await rider_with_card(uow_factory, payments, declined, "pm_card_chargeCustomerFail")
    await rider_with_card(uow_factory, payments, paying)
    await ingest_and_price(
        uow_factory, feed, [*ride(1, declined, FIRST, 7), *ride(1, paying, FIRST, 9)]
    )
    await park(uow_factory, declined, "vincom-held", 25_000, at(FIRST, 18, 30))
    await park(uow_factory, paying, "vincom-paid", 10_000, at(FIRST, 18, 30))

    first = await settle(
        uow_factory, feed, FIRST, who=ADMIN, report_dir=tmp_path / "1",
        gateway=gateway, payments=payments,
    )  # fmt: skip
    assert first.summary.control_ok, first.summary
    assert first.summary.exceptions.get("uncollected") == 1
    assert first.summary.exceptions.get("uncollected_parking") == 1
    assert first.summary.apportioned["lots-co"] == 10_000  # the declined rider's fee held
    # revenue by hour is what was collected: the paying rider's fares and fee, nothing held
    by_hour = (await figures(uow_factory, FIRST))["revenue_by_hour"]
    assert sum(by_hour.values()) == first.summary.collected.amount
    assert "07" not in by_hour  # the declined rider's ride
    assert by_hour["18"] == 10_000

    # the rider saves a working card; the declined fares and parking lines are retried
    await payments.save_card(declined, "pm_card_visa")
    retried = await payments.retry_failed_charges(declined)
    assert [r.status for r in retried] == [AttemptStatus.SUCCEEDED] * 2
    second = await settle(
        uow_factory, feed, SECOND, who=ADMIN, report_dir=tmp_path / "2",
        gateway=gateway, payments=payments,
    )  # fmt: skip
    assert second.summary.control_ok, second.summary
    assert second.summary.apportioned["lots-co"] == 25_000  # released on the day collected
    assert second.summary.adjustments == 2  # the fares day and its parking, naming FIRST
    drilled = await operator_drilldown(uow_factory, SECOND, "lots-co")
    assert [(p.pool_id, p.share) for p in drilled.pools] == [
        (f"parking-collected:{declined}:{FIRST}:lots-co", 25_000)
    ]
    async with uow_factory() as uow:
        still_open = {e.kind for e in await uow.settlement.open_exceptions()}
    assert not still_open & {"uncollected", "uncollected_parking"}
    # and it is released once: the day after apportions nothing of it again
    third = await settle(
        uow_factory, feed, SECOND + timedelta(days=1), who=ADMIN, report_dir=tmp_path / "3",
        gateway=gateway, payments=payments,
    )  # fmt: skip
    assert third.summary.control_ok, third.summary
    assert third.summary.apportioned.get("lots-co", 0) == 0
