"""Webhooks on the payment flows: verified, deduplicated by id, re-fetched, forward-only."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta

import pytest

from gateways.errors import GatewayConnectionLost, GatewayUnavailable, WebhookSignatureError
from gateways.stripe_gateway import StripeGateway
from gateways.webhooks import sign_payload
from simulators.fault_proxy import Fault, FaultProxy
from tests.helpers.payments import WEBHOOK_SECRET
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import AttemptStatus, daily_charge_key
from ticketing.unit_of_work import UnitOfWorkFactory

DAY = date(2025, 3, 16)
AMOUNT = Money(19_000, "VND")


# Every test here loses answers on the way back: the service and the gateway go through the
# fault proxy (tests/payments/conftest.py).
@pytest.fixture
def payments(proxied_payments: PaymentsService) -> PaymentsService:
    return proxied_payments


@pytest.fixture
def gateway(proxied_gateway: StripeGateway) -> StripeGateway:
    return proxied_gateway


def _event(
    event_type: str, object_id: str, *, event_id: str | None = None, kind: str = "payment_intent"
) -> bytes:
    return json.dumps(
        {
            "id": event_id or "evt_" + secrets.token_hex(8),
            "object": "event",
            "type": event_type,
            "created": int(datetime.now(UTC).timestamp()),
            "data": {"object": {"id": object_id, "object": kind}},
        }
    ).encode()


def _signed(body: bytes, *, secret: str = WEBHOOK_SECRET, at: datetime | None = None) -> str:
    return sign_payload(body, secret, at=at or datetime.now(UTC))


async def _receivable(uow_factory: UnitOfWorkFactory, account: str) -> int:
    async with uow_factory() as uow:
        return (await uow.ledger.balance(accounts.receivable(account))).amount


async def _lost_charge(
    payments: PaymentsService, gateway: StripeGateway, fault_proxy: FaultProxy
) -> tuple[str, str]:
    """A daily charge the gateway made but whose answer we lost: (account, gateway payment id)."""
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, "pm_card_visa")
    fault_proxy.inject([Fault.DROP_RESPONSE])
    with pytest.raises(GatewayConnectionLost):
        await payments.charge_day(account, DAY, AMOUNT)
    [made] = await gateway.find_payments(daily_charge_key(account, DAY))
    return account, made.id


async def test_event_completes_a_charge_whose_answer_was_lost_and_replay_changes_nothing(
    payments: PaymentsService,
    gateway: StripeGateway,
    fault_proxy: FaultProxy,
    uow_factory: UnitOfWorkFactory,
) -> None:
    account, payment_id = await _lost_charge(payments, gateway, fault_proxy)
    assert [a.status for a in await payments.attempts(account)] == [AttemptStatus.UNKNOWN]

    body = _event("payment_intent.succeeded", payment_id)
    first = await payments.handle_webhook(body, _signed(body))
    assert not first.duplicate
    assert first.payment is not None
    assert first.payment.status is AttemptStatus.SUCCEEDED
    assert await _receivable(uow_factory, account) == -19_000

    replay = await payments.handle_webhook(body, _signed(body))
    assert replay.duplicate
    assert await _receivable(uow_factory, account) == -19_000
    # Our own retry now finds the attempt settled and makes no second charge.
    assert (await payments.charge_day(account, DAY, AMOUNT)).status is AttemptStatus.SUCCEEDED
    assert len(await gateway.find_payments(daily_charge_key(account, DAY))) == 1
    assert await _receivable(uow_factory, account) == -19_000


async def test_stale_failure_event_after_success_does_not_move_status_back(
    payments: PaymentsService,
    gateway: StripeGateway,
    fault_proxy: FaultProxy,
    uow_factory: UnitOfWorkFactory,
) -> None:
    account, payment_id = await _lost_charge(payments, gateway, fault_proxy)
    ok = _event("payment_intent.succeeded", payment_id)
    late = _event("payment_intent.payment_failed", payment_id)
    await payments.handle_webhook(ok, _signed(ok))
    outcome = await payments.handle_webhook(late, _signed(late))
    assert outcome.payment is not None
    assert outcome.payment.status is AttemptStatus.SUCCEEDED
    assert (await payments.standing(account)).debt == 0
    assert await _receivable(uow_factory, account) == -19_000


async def test_events_in_any_order_settle_once(
    payments: PaymentsService,
    gateway: StripeGateway,
    fault_proxy: FaultProxy,
    uow_factory: UnitOfWorkFactory,
) -> None:
    account, payment_id = await _lost_charge(payments, gateway, fault_proxy)
    bodies = [
        _event("payment_intent.payment_failed", payment_id),  # stale body, fresh fetch wins
        _event("payment_intent.created", payment_id),
        _event("payment_intent.succeeded", payment_id),
    ]
    for body in bodies:
        await payments.handle_webhook(body, _signed(body))
    assert [a.status for a in await payments.attempts(account)] == [AttemptStatus.SUCCEEDED]
    assert await _receivable(uow_factory, account) == -19_000


@pytest.mark.parametrize("problem", ["wrong_secret", "altered_body", "stale"])
async def test_bad_signatures_are_refused_and_not_recorded(
    payments: PaymentsService, problem: str
) -> None:
    body = _event("payment_intent.succeeded", "pi_whatever", event_id="evt_refused")
    header = _signed(body)
    if problem == "wrong_secret":
        header = _signed(body, secret="whsec_wrong")
    elif problem == "altered_body":
        body = body.replace(b"pi_whatever", b"pi_other")
    else:
        header = _signed(body, at=datetime.now(UTC) - timedelta(seconds=301))
    with pytest.raises(WebhookSignatureError):
        await payments.handle_webhook(body, header)
    # Refused deliveries are not remembered: the genuine one is still processed later.
    good = _event("customer.created", "cus_x", event_id="evt_refused", kind="customer")
    assert not (await payments.handle_webhook(good, _signed(good))).duplicate


async def test_event_whose_fetch_fails_is_not_remembered(
    payments: PaymentsService, gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    _, payment_id = await _lost_charge(payments, gateway, fault_proxy)
    body = _event("payment_intent.succeeded", payment_id)
    fault_proxy.inject([Fault.ERROR_500], methods=["GET"])
    with pytest.raises(GatewayUnavailable):
        await payments.handle_webhook(body, _signed(body))
    outcome = await payments.handle_webhook(body, _signed(body))  # redelivery: fetched again
    assert not outcome.duplicate
    assert outcome.payment is not None
    assert outcome.payment.status is AttemptStatus.SUCCEEDED
