"""Payment flows on SQLite and PostgreSQL, through the in-memory gateway: each leaves the
ledger balanced and matching the gateway."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date

import pytest

from gateways.errors import CardDeclined
from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.payments import add_rider, ride_the_metro
from ticketing import postings
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.ledger.errors import InsufficientFunds, UnknownAccount
from ticketing.money import Money
from ticketing.payment_flows.debt import debt_reason
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.errors import NoSavedCard, NoWallet, RefundNotAllowed
from ticketing.payments.model import AttemptStatus, RefundRecordStatus, daily_charge_key
from ticketing.riders import AccountStatus, DenyAction, PaymentMode
from ticketing.services.charging import (
    Reconciliation,
    amounts_owed,
    charge_service_day,
    reconcile_with_gateway,
)
from ticketing.unit_of_work import UnitOfWorkFactory

DAY = date(2025, 3, 14)
CLEARING = accounts.gateway_clearing("stripe")
DECLINES_ON_CHARGE = "pm_card_chargeCustomerFail"


def vnd(amount: int) -> Money:
    return Money(amount, "VND")


async def _balance(uow_factory: UnitOfWorkFactory, code: str) -> int:
    async with uow_factory() as uow:
        try:
            return (await uow.ledger.balance(code)).amount
        except UnknownAccount:
            return 0


async def _assert_books_balanced(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        report = await uow.ledger.check_invariants()
    assert report.ok, report


async def _assert_clearing_matches_gateway(
    uow_factory: UnitOfWorkFactory, payments: PaymentsService, gateway: FakeGateway
) -> None:
    """What the ledger says the gateway holds = what the gateway says it collected, net."""
    expected = 0
    for attempt in await payments.attempts():
        if attempt.gateway_payment_id is None:
            continue
        payment = await gateway.retrieve_payment(attempt.gateway_payment_id)
        if payment.status.value == "succeeded":
            expected += payment.amount - payment.amount_refunded
    assert await _balance(uow_factory, CLEARING) == expected


async def test_top_up_credits_the_wallet_once(
    payments: PaymentsService, uow_factory: UnitOfWorkFactory, gateway: FakeGateway
) -> None:
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, "pm_card_visa")
    first = await payments.top_up(account, vnd(50_000), request_id="r1")
    assert first.status is AttemptStatus.SUCCEEDED
    again = await payments.top_up(account, vnd(50_000), request_id="r1")
    assert again == first
    assert len(await gateway.find_payments(first.attempt_id)) == 1
    assert await _balance(uow_factory, accounts.wallet(account)) == 50_000
    await _assert_books_balanced(uow_factory)
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)


async def test_a_postpaid_rider_cannot_top_up(
    payments: PaymentsService, uow_factory: UnitOfWorkFactory, gateway: FakeGateway
) -> None:
    """The rule was only in the HTTP route: the service opened a funded wallet no fare uses."""
    account, _ = await add_rider(uow_factory, mode=PaymentMode.POSTPAID_CARD)
    await payments.save_card(account, "pm_card_visa")
    with pytest.raises(NoWallet, match="postpaid"):
        await payments.top_up(account, vnd(50_000), request_id="r1")
    assert await payments.attempts(account) == []
    assert await _balance(uow_factory, accounts.wallet(account)) == 0
    prepaid, _ = await add_rider(uow_factory, mode=PaymentMode.PREPAID_WALLET)
    await payments.save_card(prepaid, "pm_card_visa")
    assert (await payments.top_up(prepaid, vnd(50_000), request_id="r1")).succeeded


async def test_declined_top_up_posts_nothing(
    payments: PaymentsService, uow_factory: UnitOfWorkFactory, gateway: FakeGateway
) -> None:
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, DECLINES_ON_CHARGE)
    outcome = await payments.top_up(account, vnd(20_000), request_id="r1")
    assert outcome.status is AttemptStatus.FAILED
    assert outcome.decline_code == "card_declined"
    assert outcome.posting_id is None
    assert await _balance(uow_factory, accounts.wallet(account)) == 0
    assert (await payments.standing(account)).debt == 0  # a failed top-up is not debt
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)


async def test_card_refused_at_saving_is_not_saved(payments: PaymentsService) -> None:
    account = "acc-" + secrets.token_hex(6)
    with pytest.raises(CardDeclined):
        await payments.save_card(account, "pm_card_visa_chargeDeclined")
    with pytest.raises(NoSavedCard):
        await payments.top_up(account, vnd(10_000), request_id="r1")


async def test_daily_charge_settles_the_receivable(
    payments: PaymentsService,
    uow_factory: UnitOfWorkFactory,
    gateway: FakeGateway,
    hanoi: FareFeed,
) -> None:
    account, _ = await add_rider(uow_factory)
    await payments.save_card(account, "pm_card_visa")
    assert await ride_the_metro(uow_factory, hanoi, account, DAY) == vnd(27_000)
    outcome = await payments.charge_day(account, DAY, vnd(27_000))
    assert outcome.status is AttemptStatus.SUCCEEDED
    assert outcome.attempt_id == daily_charge_key(account, DAY) == f"charge:{account}:2025-03-14"
    assert await payments.charge_day(account, DAY, vnd(27_000)) == outcome
    assert len(await gateway.find_payments(outcome.attempt_id)) == 1
    assert await _balance(uow_factory, accounts.receivable(account)) == 0
    await _assert_books_balanced(uow_factory)
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)


async def test_partial_then_full_refund_with_reversing_postings(
    payments: PaymentsService, uow_factory: UnitOfWorkFactory, gateway: FakeGateway
) -> None:
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, "pm_card_visa")
    top_up = await payments.top_up(account, vnd(40_000), request_id="r1")

    partial = await payments.refund(top_up.attempt_id, refund_id="rf-1", amount=15_000)
    assert partial.status is RefundRecordStatus.SUCCEEDED
    assert await payments.refund(top_up.attempt_id, refund_id="rf-1", amount=15_000) == partial
    assert await _balance(uow_factory, accounts.wallet(account)) == 25_000
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)

    with pytest.raises(RefundNotAllowed):
        await payments.refund(top_up.attempt_id, refund_id="rf-2", amount=25_001)
    rest = await payments.refund(top_up.attempt_id, refund_id="rf-2", amount=25_000)
    assert rest.status is RefundRecordStatus.SUCCEEDED
    assert await _balance(uow_factory, accounts.wallet(account)) == 0
    assert top_up.gateway_payment_id is not None
    assert (await gateway.retrieve_payment(top_up.gateway_payment_id)).amount_refunded == 40_000
    await _assert_books_balanced(uow_factory)
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)


async def test_full_refund_is_a_reversal_of_the_payment_posting(
    payments: PaymentsService, uow_factory: UnitOfWorkFactory
) -> None:
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, "pm_card_visa")
    top_up = await payments.top_up(account, vnd(30_000), request_id="r1")
    refund = await payments.refund(top_up.attempt_id, refund_id="rf-all")
    assert refund.amount == vnd(30_000)
    async with uow_factory() as uow:
        assert refund.posting_id is not None
        reversal = await uow.ledger.get_posting(refund.posting_id)
    assert reversal.reverses == top_up.posting_id


async def test_refund_of_spent_top_up_is_refused_before_the_gateway(
    payments: PaymentsService,
    uow_factory: UnitOfWorkFactory,
    gateway: FakeGateway,
    hanoi: FareFeed,
) -> None:
    account, _ = await add_rider(uow_factory, mode=PaymentMode.PREPAID_WALLET)
    await payments.save_card(account, "pm_card_visa")
    top_up = await payments.top_up(account, vnd(10_000), request_id="r1")
    await ride_the_metro(uow_factory, hanoi, account, DAY)  # the wallet pays what it can
    assert await _balance(uow_factory, accounts.wallet(account)) == 0
    with pytest.raises(InsufficientFunds):
        await payments.refund(top_up.attempt_id, refund_id="rf-1")
    assert top_up.gateway_payment_id is not None
    assert (await gateway.retrieve_payment(top_up.gateway_payment_id)).amount_refunded == 0


async def _denied(uow_factory: UnitOfWorkFactory, credentials: list[int]) -> set[int]:
    async with uow_factory() as uow:
        return {c for c in credentials if await uow.deny_list.is_denied(c)}


async def _status(uow_factory: UnitOfWorkFactory, account: str) -> AccountStatus:
    async with uow_factory() as uow:
        return (await uow.riders.get_account(account)).status


async def test_decline_puts_account_in_debt_and_retry_clears_it(
    payments: PaymentsService,
    uow_factory: UnitOfWorkFactory,
    gateway: FakeGateway,
    hanoi: FareFeed,
) -> None:
    account, credentials = await add_rider(uow_factory, debt_limit=0)
    await payments.save_card(account, DECLINES_ON_CHARGE)
    assert await ride_the_metro(uow_factory, hanoi, account, DAY) == vnd(27_000)
    declined = await payments.charge_day(account, DAY, vnd(27_000))
    assert declined.status is AttemptStatus.FAILED
    standing = await payments.standing(account)
    assert (standing.debt, standing.denied) == (27_000, True)
    assert await _denied(uow_factory, credentials) == set(credentials)
    assert await _status(uow_factory, account) is AccountStatus.DEBT_RECOVERY
    assert await _balance(uow_factory, accounts.receivable(account)) == 27_000

    await payments.save_card(account, "pm_card_visa")
    [retried] = await payments.retry_failed_charges(account)
    assert retried.status is AttemptStatus.SUCCEEDED
    assert (await payments.standing(account)).debt == 0
    assert await _denied(uow_factory, credentials) == set()
    assert await _status(uow_factory, account) is AccountStatus.ACTIVE
    assert await _balance(uow_factory, accounts.receivable(account)) == 0
    assert await payments.retry_failed_charges(account) == []
    await _assert_books_balanced(uow_factory)
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)


async def test_debt_within_limit_is_not_denied_and_a_top_up_pays_it(
    payments: PaymentsService,
    uow_factory: UnitOfWorkFactory,
    gateway: FakeGateway,
    hanoi: FareFeed,
) -> None:
    # A prepaid rider whose wallet could not pay the day's fares: a postpaid one has no wallet.
    account, credentials = await add_rider(
        uow_factory, debt_limit=50_000, mode=PaymentMode.PREPAID_WALLET
    )
    await payments.save_card(account, DECLINES_ON_CHARGE)
    assert await ride_the_metro(uow_factory, hanoi, account, DAY) == vnd(27_000)
    await payments.charge_day(account, DAY, vnd(27_000))
    standing = await payments.standing(account)
    assert (standing.debt, standing.denied) == (27_000, False)
    assert await _denied(uow_factory, credentials) == set()
    assert await _status(uow_factory, account) is AccountStatus.DEBT_RECOVERY

    await payments.save_card(account, "pm_card_visa")
    await payments.top_up(account, vnd(50_000), request_id="r1")
    assert (await payments.standing(account)).debt == 0
    assert await _status(uow_factory, account) is AccountStatus.ACTIVE
    assert await _balance(uow_factory, accounts.wallet(account)) == 23_000
    assert await _balance(uow_factory, accounts.receivable(account)) == 0
    await _assert_books_balanced(uow_factory)
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)


async def test_a_sufficient_top_up_lifts_the_denial_on_the_shared_deny_list(
    payments: PaymentsService,
    uow_factory: UnitOfWorkFactory,
    gateway: FakeGateway,
    hanoi: FareFeed,
) -> None:
    account, credentials = await add_rider(
        uow_factory, debt_limit=10_000, credentials=3, mode=PaymentMode.PREPAID_WALLET
    )
    lost = credentials[0]
    await payments.save_card(account, DECLINES_ON_CHARGE)
    assert await ride_the_metro(uow_factory, hanoi, account, DAY) == vnd(27_000)
    await payments.charge_day(account, DAY, vnd(27_000))
    assert await _denied(uow_factory, credentials) == set(credentials)
    async with uow_factory() as uow:  # a lost phone, revoked while the debt is open
        await uow.riders.revoke_credential(lost, "lost phone")
        await uow.commit()

    await payments.save_card(account, "pm_card_visa")
    await payments.top_up(account, vnd(40_000), request_id="r1")
    assert (await payments.standing(account)).debt == 0
    assert await _status(uow_factory, account) is AccountStatus.ACTIVE
    assert await _denied(uow_factory, credentials) == {lost}  # revoked: stays denied

    async with uow_factory() as uow:
        snapshot = await uow.deny_list.snapshot()
        version, denied = snapshot.version, snapshot.ids
        delta = await uow.deny_list.history(0)
    # One numbering for every writer: the events are 1..version with no gap, and replaying
    # them gives the snapshot.
    assert [e.version for e in delta.events] == list(range(1, version + 1))
    assert delta.version == version
    replayed: set[int] = set()
    for event in delta.events:
        if event.action is DenyAction.ADD:
            replayed.add(event.credential_id)
        else:
            replayed.discard(event.credential_id)
    assert replayed == denied == {lost}
    assert [(e.action, e.reason) for e in delta.events] == [
        *[(DenyAction.ADD, debt_reason(account))] * 3,
        *[(DenyAction.REMOVE, debt_reason(account))] * 2,
    ]
    await _assert_books_balanced(uow_factory)
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)


async def test_a_service_day_is_charged_what_the_receivable_owes_once(
    payments: PaymentsService,
    uow_factory: UnitOfWorkFactory,
    gateway: FakeGateway,
    hanoi: FareFeed,
) -> None:
    rider, _ = await add_rider(uow_factory)
    idle, _ = await add_rider(uow_factory)
    await payments.save_card(rider, "pm_card_visa")
    fares = await ride_the_metro(uow_factory, hanoi, rider, DAY)
    assert await amounts_owed(uow_factory, [rider, idle]) == {rider: fares}
    [charge] = await charge_service_day(uow_factory, payments, DAY, [idle, rider])
    assert (charge.account_id, charge.amount, charge.outcome.succeeded) == (rider, fares, True)
    assert await charge_service_day(uow_factory, payments, DAY, [idle, rider]) == []
    assert len(await gateway.find_payments(charge.outcome.attempt_id)) == 1
    assert await amounts_owed(uow_factory, [rider, idle]) == {}


async def test_reconciliation_finds_clearing_the_gateway_never_collected(
    payments: PaymentsService, uow_factory: UnitOfWorkFactory, gateway: FakeGateway
) -> None:
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, "pm_card_visa")
    await payments.top_up(account, vnd(30_000), request_id="r1")
    assert await reconcile_with_gateway(uow_factory, payments, gateway) == Reconciliation(
        30_000, 30_000
    )
    async with uow_factory() as uow:  # money booked as received that no gateway payment backs
        await uow.ledger.post(
            postings.payment_received(
                "never-sent",
                clearing=CLEARING,
                paid_account=accounts.wallet(account),
                account_id=account,
                amount=vnd(5_000),
                gateway_payment_id="pi_missing",
                purpose="top_up",
                at=uow.clock(),
            )
        )
        await uow.commit()
    found = await reconcile_with_gateway(uow_factory, payments, gateway)
    assert found == Reconciliation(35_000, 30_000)
    assert not found.matches


async def test_six_concurrent_full_refunds_refund_the_payment_at_most_once(
    payments: PaymentsService, uow_factory: UnitOfWorkFactory, gateway: FakeGateway
) -> None:
    """Each refund checked what was left on unlocked reads: six at once of a 50,000 top-up
    refunded 300,000 at the gateway. The payment's row is locked while one checks."""
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, "pm_card_visa")
    top_up = await payments.top_up(account, vnd(50_000), request_id="r1")

    async def full_refund(n: int) -> object:
        try:
            return await payments.refund(top_up.attempt_id, refund_id=f"rf-{n}")
        except (RefundNotAllowed, InsufficientFunds) as refused:
            return refused

    answers = await asyncio.gather(*(full_refund(n) for n in range(6)))
    refunded = [a for a in answers if not isinstance(a, Exception)]
    assert len(refunded) == 1, answers
    assert top_up.gateway_payment_id is not None
    assert (await gateway.retrieve_payment(top_up.gateway_payment_id)).amount_refunded == 50_000
    assert await _balance(uow_factory, accounts.wallet(account)) == 0
    await _assert_books_balanced(uow_factory)
    await _assert_clearing_matches_gateway(uow_factory, payments, gateway)
