"""Charges in flight together share their transactions (`ticketing.payment_flows.batch`): each
still ends as it would alone, on SQLite and PostgreSQL, through the in-memory gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.payments import add_rider, ride_the_metro
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payment_flows.batch import GroupCommit
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.errors import NoSavedCard
from ticketing.payments.model import AttemptStatus, PaymentAttempt
from ticketing.riders import AccountStatus
from ticketing.stores.payments import PaymentRecords
from ticketing.unit_of_work import UnitOfWorkFactory

DAY = date(2025, 3, 14)
DECLINES_ON_CHARGE = "pm_card_chargeCustomerFail"
FARES = Money(27_000, "VND")


async def test_a_group_is_one_call_and_a_failed_group_is_done_one_by_one() -> None:
    groups: list[list[int]] = []
    alone: list[int] = []

    async def many(items: list[int]) -> list[int | Exception]:
        groups.append(items)
        if len(groups) == 2:
            raise RuntimeError("the group's transaction failed")
        return [item * 10 if item else ValueError("zero") for item in items]

    async def one(item: int) -> int:
        alone.append(item)
        if item == 5:
            raise ValueError("five alone")
        return item * 100

    group = GroupCommit(many, one)
    first = await asyncio.gather(*(group(i) for i in (1, 2)))
    second = await asyncio.gather(*(group(i) for i in (4, 5, 6)), return_exceptions=True)
    third = await asyncio.gather(group(0), return_exceptions=True)

    assert first == [10, 20]
    assert [second[0], second[2]] == [400, 600]
    assert [repr(second[1]), repr(third[0])] == [
        repr(ValueError("five alone")),
        repr(ValueError("zero")),
    ]
    assert groups == [[1, 2], [4, 5, 6], [0]]
    assert alone == [4, 5, 6]


async def test_charges_in_flight_together_end_as_each_would_alone(
    payments: PaymentsService,
    uow_factory: UnitOfWorkFactory,
    gateway: FakeGateway,
    hanoi: FareFeed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_debt, in_debt_credentials = await add_rider(uow_factory, debt_limit=0)
    paying, paying_credentials = await add_rider(uow_factory, debt_limit=0)
    declining, declining_credentials = await add_rider(uow_factory, debt_limit=0)
    cardless, _ = await add_rider(uow_factory)
    yesterday = DAY - timedelta(days=1)
    await payments.save_card(in_debt, DECLINES_ON_CHARGE)
    await ride_the_metro(uow_factory, hanoi, in_debt, yesterday)
    assert (await payments.charge_day(in_debt, yesterday, FARES)).status is AttemptStatus.FAILED
    await payments.save_card(in_debt, "pm_card_visa")
    await payments.save_card(paying, "pm_card_visa")
    await payments.save_card(declining, DECLINES_ON_CHARGE)
    for rider in (in_debt, paying, declining, cardless):
        await ride_the_metro(uow_factory, hanoi, rider, DAY)

    stored: list[int] = []
    add_attempts = PaymentRecords.add_attempts

    async def counted(
        records: PaymentRecords, news: Sequence[PaymentAttempt], lease: timedelta
    ) -> tuple[dict[str, PaymentAttempt], set[str]]:
        stored.append(len(news))
        return await add_attempts(records, news, lease)

    monkeypatch.setattr(PaymentRecords, "add_attempts", counted)
    batch = payments.batch()
    riders = (in_debt, paying, declining, cardless)
    outcomes = await asyncio.gather(
        *(batch.charge_day(rider, DAY, FARES) for rider in riders), return_exceptions=True
    )

    assert stored == [3]  # the three with a card stored in one group; the cardless one not
    paid, also_paid, refused, no_card = outcomes
    assert isinstance(no_card, NoSavedCard)
    assert not isinstance(paid, BaseException)
    assert not isinstance(also_paid, BaseException)
    assert not isinstance(refused, BaseException)
    assert [paid.status, also_paid.status, refused.status] == [
        AttemptStatus.SUCCEEDED,
        AttemptStatus.SUCCEEDED,
        AttemptStatus.FAILED,
    ]

    # each rider's standing as a charge alone leaves it: yesterday's debt still denies the
    # first, today's decline denies the third, the second owes nothing
    for rider, debt, credentials in (
        (in_debt, 27_000, in_debt_credentials),
        (paying, 0, paying_credentials),
        (declining, 27_000, declining_credentials),
    ):
        standing = await payments.standing(rider)
        assert (standing.debt, standing.denied) == (debt, debt > 0)
        async with uow_factory() as uow:
            denied = {c for c in credentials if await uow.deny_list.is_denied(c)}
            status = (await uow.riders.get_account(rider)).status
        assert denied == (set(credentials) if debt else set())
        assert status is (AccountStatus.DEBT_RECOVERY if debt else AccountStatus.ACTIVE)

    # asked again (a retried stage): the same outcomes, no second payment at the gateway
    again = await asyncio.gather(*(batch.charge_day(r, DAY, FARES) for r in riders[:3]))
    assert again == [paid, also_paid, refused]
    assert len(await gateway.find_payments(also_paid.attempt_id)) == 1
    async with uow_factory() as uow:
        assert (await uow.ledger.check_invariants()).ok
        owed = await uow.ledger.accounts([accounts.receivable(r) for r in riders])
        clearing = await uow.ledger.balance(payments.clearing_account)
    assert owed[accounts.receivable(paying)].normal_balance.amount == 0
    assert owed[accounts.receivable(in_debt)].normal_balance.amount == 27_000  # yesterday's
    assert owed[accounts.receivable(declining)].normal_balance.amount == 27_000
    assert owed[accounts.receivable(cardless)].normal_balance.amount == 27_000
    assert clearing.amount == 2 * 27_000
