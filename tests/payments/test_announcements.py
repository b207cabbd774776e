"""Riders are told through the outbox, once per fact, after the payment is recorded: a declined
day, the debt paid by a retry or from a top-up, a wallet left low; on SQLite and PostgreSQL
through the in-memory gateway."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.payments import WEBHOOK_SECRET, add_rider, ride_the_metro
from ticketing.fares.feed import FareFeed
from ticketing.money import Money
from ticketing.outbox.file import FileOutbox
from ticketing.outbox.messages import Template
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import AttemptStatus
from ticketing.riders import PaymentMode
from ticketing.unit_of_work import UnitOfWorkFactory

DAY = date(2025, 3, 14)
DECLINES_ON_CHARGE = "pm_card_chargeCustomerFail"


def vnd(amount: int) -> Money:
    return Money(amount, "VND")


@pytest.fixture
def outbox(tmp_path: Path) -> FileOutbox:
    return FileOutbox(tmp_path / "outbox.jsonl")


@pytest.fixture
def told(
    uow_factory: UnitOfWorkFactory, gateway: FakeGateway, outbox: FileOutbox
) -> PaymentsService:
    return PaymentsService(uow_factory, gateway, webhook_secret=WEBHOOK_SECRET, outbox=outbox)


async def templates(outbox: FileOutbox, account: str) -> list[tuple[Template, dict[str, object]]]:
    return [(m.template, dict(m.parameters)) for m in await outbox.messages(account)]


async def test_a_declined_day_then_its_retry(
    told: PaymentsService, outbox: FileOutbox, uow_factory: UnitOfWorkFactory, hanoi: FareFeed
) -> None:
    account, _ = await add_rider(uow_factory)
    await told.save_card(account, DECLINES_ON_CHARGE)
    await ride_the_metro(uow_factory, hanoi, account, DAY)
    declined = await told.charge_day(account, DAY, vnd(27_000))
    assert declined.status is AttemptStatus.FAILED
    again = await told.charge_day(account, DAY, vnd(27_000))  # the same day asked again
    assert again.status is AttemptStatus.FAILED
    assert await templates(outbox, account) == [
        (Template.CHARGE_DECLINED, {"day": "2025-03-14", "amount": 27_000, "currency": "VND"})
    ]

    await told.save_card(account, "pm_card_visa")
    [retried] = await told.retry_failed_charges(account)
    assert retried.succeeded
    assert (await templates(outbox, account))[1:] == [
        (
            Template.DEBT_RECOVERED,
            {"day": "2025-03-14", "amount": 27_000, "currency": "VND", "paid_by": "card"},
        )
    ]


async def test_a_paid_day_tells_nobody(
    told: PaymentsService, outbox: FileOutbox, uow_factory: UnitOfWorkFactory, hanoi: FareFeed
) -> None:
    account, _ = await add_rider(uow_factory)
    await told.save_card(account, "pm_card_visa")
    await ride_the_metro(uow_factory, hanoi, account, DAY)
    assert (await told.charge_day(account, DAY, vnd(27_000))).succeeded
    assert await outbox.messages() == []


async def test_a_top_up_that_pays_the_debt_and_leaves_the_wallet_low(
    told: PaymentsService, outbox: FileOutbox, uow_factory: UnitOfWorkFactory, hanoi: FareFeed
) -> None:
    # A prepaid rider whose wallet could not pay the day (a postpaid one has no wallet).
    account, _ = await add_rider(uow_factory, debt_limit=50_000, mode=PaymentMode.PREPAID_WALLET)
    await told.save_card(account, DECLINES_ON_CHARGE)
    await ride_the_metro(uow_factory, hanoi, account, DAY)
    await told.charge_day(account, DAY, vnd(27_000))
    await told.save_card(account, "pm_card_visa")
    topped = await told.top_up(account, vnd(30_000), request_id="r1")
    assert topped.succeeded
    assert await templates(outbox, account) == [
        (Template.CHARGE_DECLINED, {"day": "2025-03-14", "amount": 27_000, "currency": "VND"}),
        (
            Template.DEBT_RECOVERED,
            {"day": "2025-03-14", "amount": 27_000, "currency": "VND", "paid_by": "wallet"},
        ),
        (Template.LOW_BALANCE, {"balance": 3_000, "threshold": 20_000, "currency": "VND"}),
    ]
    # The same top-up asked again (a client retry) is the same payment: nothing new is said.
    await told.top_up(account, vnd(30_000), request_id="r1")
    assert len(await outbox.messages(account)) == 3


async def test_a_top_up_leaving_enough_says_nothing(
    told: PaymentsService, outbox: FileOutbox, uow_factory: UnitOfWorkFactory
) -> None:
    account, _ = await add_rider(uow_factory, mode=PaymentMode.PREPAID_WALLET)
    await told.save_card(account, "pm_card_visa")
    assert (await told.top_up(account, vnd(20_000), request_id="r1")).succeeded
    assert await outbox.messages() == []


async def test_an_outbox_that_fails_does_not_fail_the_payment(
    uow_factory: UnitOfWorkFactory,
    gateway: FakeGateway,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "blocker").write_text("a file where the outbox's directory should be")
    broken = FileOutbox(tmp_path / "blocker" / "outbox.jsonl")
    payments = PaymentsService(uow_factory, gateway, outbox=broken)
    account, _ = await add_rider(uow_factory, mode=PaymentMode.PREPAID_WALLET)
    await payments.save_card(account, "pm_card_visa")
    with caplog.at_level(logging.WARNING, logger="ticketing.payment_flows.results"):
        outcome = await payments.top_up(account, vnd(5_000), request_id="r1")
    assert outcome.succeeded  # recorded and posted; only the warning is lost
    assert "low-balance" in caplog.text
    assert "cannot open the outbox" in caplog.text
