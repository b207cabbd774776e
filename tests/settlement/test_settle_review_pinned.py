"""What a second finance user approves is exactly what was reviewed, on SQLite and
PostgreSQL, through the in-memory gateway: a day that changed after it was prepared is not
charged on the strength of the old review. A late tap is refused at the approval request; a
change only the whole computation sees (a car park's fee posted in the day after the review)
is refused by the runner before the first charge, the approval withdrawn with the reason;
prepared again, the day is approved and charged as the new review says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.settlement import DAY, at, postpaid_riders_who_rode, ride
from ticketing import postings
from ticketing.audit import Actor, ActorRole
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.settlement_runner import SettlementRunner
from ticketing.services.settlement_runs import request_approval, request_prepare, run_of
from ticketing.services.taps import ingest_and_price
from ticketing.settlement.errors import ReviewOutdated
from ticketing.settlement.states import Job, RunState
from ticketing.unit_of_work import UnitOfWorkFactory

LAN = Actor("fin-lan", ActorRole.FINANCE)
MAI = Actor("fin-mai", ActorRole.FINANCE)


def runner(
    uows: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> SettlementRunner:
    return SettlementRunner(
        uows=uows,
        feed=feed,
        report_dir=lambda day: tmp_path / day.isoformat(),
        gateway=gateway,
        payments=PaymentsService(uows, gateway),
    )


async def prepared(uows: UnitOfWorkFactory, work: SettlementRunner) -> str:
    await request_prepare(uows, DAY, LAN)
    assert await work.run_waiting() == [(DAY, Job.PREPARE)]
    run = await run_of(uows, DAY)
    assert run.state is RunState.PREPARED
    assert run.review is not None
    assert run.review.fingerprint
    return run.review.fingerprint


async def test_a_day_changed_after_its_review_is_not_approved_until_prepared_again(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, gateway: FakeGateway, tmp_path: Path
) -> None:
    payments = PaymentsService(uow_factory, gateway)
    riders = await postpaid_riders_who_rode(
        uow_factory, payments, feed, prefix="pinned", count=2, first_credential=7100
    )
    work = runner(uow_factory, feed, gateway, tmp_path)
    first = await prepared(uow_factory, work)

    # a late tap of the day after the review: the approval is refused at once, nothing waits
    await ingest_and_price(uow_factory, feed, ride(5, riders[0], DAY, 17))
    with pytest.raises(ReviewOutdated, match="prepare it again"):
        await request_approval(uow_factory, DAY, MAI)
    assert (await run_of(uow_factory, DAY)).job is None

    second = await prepared(uow_factory, work)
    assert second != first

    # a car park's fee of the day posted after this review: same taps, other statements; the
    # runner refuses before charging anyone and withdraws the approval
    async with uow_factory() as uow:
        await uow.ledger.post(
            postings.parking_fee(
                "parking:late-upload", operator_id="lots-co",
                payers=[(accounts.receivable(riders[1]), 20_000)], currency="VND",
                session_id="late-upload", lot_id="vincom", at=at(DAY, 20, 0),
            )
        )  # fmt: skip
        await uow.commit()
    await request_approval(uow_factory, DAY, MAI)
    assert await work.run_waiting() == [(DAY, Job.APPROVE)]
    refused = await run_of(uow_factory, DAY)
    assert refused.state is RunState.FAILED
    assert refused.error is not None
    assert "changed since it was reviewed" in refused.error
    assert (refused.approved_by, refused.review) == (None, None)
    for rider in riders:
        assert [a.purpose.value for a in await payments.attempts(rider)] == []  # none charged

    # prepared again, the new review is what the approval charges
    third = await prepared(uow_factory, work)
    assert third not in (first, second)
    review = (await run_of(uow_factory, DAY)).review
    assert review is not None
    await request_approval(uow_factory, DAY, MAI)
    assert await work.run_waiting() == [(DAY, Job.APPROVE)]
    settled = await run_of(uow_factory, DAY)
    assert settled.state is RunState.SETTLED, settled.error
    charged = {
        rider: sum(a.amount.amount for a in await payments.attempts(rider)) for rider in riders
    }
    assert sum(charged.values()) == review.charges_total + 20_000  # and the fee's own line
