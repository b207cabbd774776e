"""What our payment flows rely on from a card gateway, checked on localstripe (through
`StripeGateway`) and on the in-memory fake the flow tests use (`tests.helpers.fake_gateway`):
the same checks on both, so the fake cannot drift from what it stands for."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateways.errors import CardDeclined, GatewayNotFound, GatewayRequestRejected
from gateways.localstripe_server import LocalStripe
from gateways.protocol import (
    CHARGE_KEY_METADATA_KEY,
    IDEMPOTENCY_METADATA_KEY,
    Gateway,
    PaymentRequest,
    PaymentStatus,
    RefundStatus,
    SavedCard,
)
from gateways.stripe_gateway import StripeGateway
from tests.helpers.fake_gateway import FakeGateway

AMOUNT = 23_000


@pytest.fixture(params=["fake", "localstripe"])
async def gateway(request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    if request.param == "fake":
        yield FakeGateway()
        return
    server: LocalStripe = request.getfixturevalue("localstripe_server")
    async with StripeGateway(server.api_key, server.base_url) as opened:
        yield opened


def _key() -> str:
    return uuid.uuid4().hex


async def _card(gateway: Gateway, test_card: str = "pm_card_visa") -> SavedCard:
    customer = await gateway.create_customer("acc-" + _key(), idempotency_key=_key())
    return await gateway.save_card(customer.id, test_card, idempotency_key=_key())


def _request(card: SavedCard, **changes: object) -> PaymentRequest:
    fields: dict[str, object] = {
        "customer_id": card.customer_id,
        "payment_method_id": card.id,
        "amount": AMOUNT,
        "currency": "VND",
        "idempotency_key": "charge:" + _key(),
        "off_session": True,
    }
    return PaymentRequest(**{**fields, **changes})  # type: ignore[arg-type]


async def test_customers_are_found_by_their_account(gateway: Gateway) -> None:
    account = "acc-" + _key()
    assert await gateway.find_customer(account) is None
    first = await gateway.create_customer(account, idempotency_key=_key(), email="a@example.com")
    assert first.account_ref == account
    assert await gateway.find_customer(account) == first
    # Made in the same second, either may be the oldest (ties go by id); the answer is stable.
    second = await gateway.create_customer(account, idempotency_key=_key())
    found = await gateway.find_customer(account)
    assert found in (first, second)
    assert await gateway.find_customer(account) == found
    assert await gateway.find_customer("acc-" + _key()) is None


async def test_a_card_is_saved_refused_or_its_customer_unknown(gateway: Gateway) -> None:
    card = await _card(gateway)
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("visa", "4242", 12, 2030)
    assert card.id != "pm_card_visa"  # a payment method of its own
    with pytest.raises(CardDeclined) as refused:
        await _card(gateway, "pm_card_visa_chargeDeclined")
    assert (refused.value.code, refused.value.payment_id) == ("card_declined", None)
    with pytest.raises(GatewayNotFound):
        await gateway.save_card("cus_nobody", "pm_card_visa", idempotency_key=_key())
    customer = await gateway.create_customer("acc-" + _key(), idempotency_key=_key())
    with pytest.raises(GatewayNotFound):
        await gateway.save_card(customer.id, "pm_nothing", idempotency_key=_key())


async def test_a_payment_succeeds_and_reads_back_the_same(gateway: Gateway) -> None:
    card = await _card(gateway)
    request = _request(card, metadata={CHARGE_KEY_METADATA_KEY: "charge:x"})
    paid = await gateway.create_payment(request)
    assert (paid.status, paid.amount, paid.currency) == (PaymentStatus.SUCCEEDED, AMOUNT, "VND")
    assert (paid.customer_id, paid.payment_method_id) == (card.customer_id, card.id)
    assert paid.idempotency_key == request.idempotency_key
    assert paid.metadata == {
        CHARGE_KEY_METADATA_KEY: "charge:x",
        IDEMPOTENCY_METADATA_KEY: request.idempotency_key,
    }
    assert (paid.amount_refunded, paid.decline_code, paid.failure_message) == (0, None, None)
    assert paid.charge_id is not None
    assert paid.created.tzinfo is not None
    assert paid.created.microsecond == 0  # whole seconds
    assert await gateway.retrieve_payment(paid.id) == paid
    with pytest.raises(GatewayNotFound):
        await gateway.retrieve_payment("pi_nothing")


@pytest.mark.parametrize("amount", [0, -5])
async def test_an_amount_that_cannot_be_charged_is_refused(gateway: Gateway, amount: int) -> None:
    card = await _card(gateway)
    with pytest.raises(GatewayRequestRejected):
        await gateway.create_payment(_request(card, amount=amount))


async def test_a_declined_charge_is_a_failed_payment_that_can_be_cancelled(
    gateway: Gateway,
) -> None:
    card = await _card(gateway, "pm_card_chargeCustomerFail")
    request = _request(card)
    with pytest.raises(CardDeclined) as declined:
        await gateway.create_payment(request)
    assert declined.value.code == "card_declined"
    assert declined.value.payment_id is not None
    failed = await gateway.retrieve_payment(declined.value.payment_id)
    assert (failed.status, failed.decline_code) == (PaymentStatus.FAILED, "card_declined")
    assert failed.failure_message
    assert await gateway.find_payments(request.idempotency_key) == [failed]
    with pytest.raises(GatewayRequestRejected):
        await gateway.refund(failed.id, amount=None, idempotency_key=_key())
    with pytest.raises(GatewayRequestRejected):
        await gateway.capture_payment(failed.id, idempotency_key=_key())
    cancelled = await gateway.cancel_payment(failed.id, idempotency_key=_key())
    assert cancelled.status is PaymentStatus.CANCELED


async def test_an_authorisation_is_captured_once_or_cancelled_and_only_a_capture_moves_money(
    gateway: Gateway,
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    card = await _card(gateway)
    kept = await gateway.create_payment(_request(card, capture_manually=True))
    voided = await gateway.create_payment(_request(card, capture_manually=True))
    assert kept.status is voided.status is PaymentStatus.REQUIRES_CAPTURE
    captured = await gateway.capture_payment(kept.id, idempotency_key=_key())
    assert (captured.status, captured.amount) == (PaymentStatus.SUCCEEDED, AMOUNT)
    with pytest.raises(GatewayRequestRejected):
        await gateway.capture_payment(kept.id, idempotency_key=_key())
    with pytest.raises(GatewayRequestRejected):
        await gateway.cancel_payment(kept.id, idempotency_key=_key())
    cancelled = await gateway.cancel_payment(voided.id, idempotency_key=_key())
    assert cancelled.status is PaymentStatus.CANCELED
    with pytest.raises(GatewayRequestRejected):
        await gateway.cancel_payment(voided.id, idempotency_key=_key())

    moved = await gateway.list_balance_transactions(started, None)
    assert moved is not None
    mine = [t for t in moved if t.source_id in (kept.charge_id, voided.charge_id)]
    assert [(t.source_id, t.type, t.amount, t.fee, t.net) for t in mine] == [
        (kept.charge_id, "charge", AMOUNT, 0, AMOUNT)
    ]


async def test_idempotency_keys_are_ignored_and_payments_found_by_their_keys(
    gateway: Gateway,
) -> None:
    card = await _card(gateway)
    charge_key = "charge:" + _key()
    request = _request(card, metadata={CHARGE_KEY_METADATA_KEY: charge_key})
    first = await gateway.create_payment(request)
    second = await gateway.create_payment(request)  # the same key: a second payment
    retry = await gateway.create_payment(_request(card, metadata=request.metadata))
    assert len({first.id, second.id, retry.id}) == 3
    assert {p.id for p in await gateway.find_payments(request.idempotency_key)} == {
        first.id,
        second.id,
    }
    found = await gateway.find_charge_payments(charge_key)
    assert {p.id for p in found} == {first.id, second.id, retry.id}
    assert found == sorted(found, key=lambda p: (p.created, p.id))
    assert await gateway.find_payments("charge:" + _key()) == []


async def test_partial_refunds_add_up_and_are_found_by_key(gateway: Gateway) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    card = await _card(gateway)
    paid = await gateway.create_payment(_request(card))
    part = await gateway.refund(
        paid.id, amount=8_000, idempotency_key="refund:a", metadata={"why": "late tap"}
    )
    assert (part.payment_id, part.charge_id) == (paid.id, paid.charge_id)
    assert (part.amount, part.currency, part.status) == (8_000, "VND", RefundStatus.SUCCEEDED)
    assert (part.idempotency_key, part.metadata["why"]) == ("refund:a", "late tap")
    rest = await gateway.refund(paid.id, amount=AMOUNT - 8_000, idempotency_key="refund:b")
    assert (await gateway.retrieve_payment(paid.id)).amount_refunded == AMOUNT
    assert await gateway.find_refunds(paid.id, "refund:a") == [part]
    assert await gateway.find_refunds(paid.id, "refund:c") == []
    with pytest.raises(GatewayRequestRejected):
        await gateway.refund(paid.id, amount=0, idempotency_key=_key())
    with pytest.raises(GatewayNotFound):
        await gateway.refund("pi_nothing", amount=None, idempotency_key=_key())

    listed = [r for r in await gateway.list_refunds(started, None) if r.payment_id == paid.id]
    assert {r.id for r in listed} == {part.id, rest.id}
    moved = await gateway.list_balance_transactions(started, None)
    assert moved is not None
    refunds = sorted(t.amount for t in moved if t.source_id in (part.id, rest.id))
    assert refunds == [-(AMOUNT - 8_000), -8_000]


async def test_a_whole_refund_refunds_the_payments_amount(gateway: Gateway) -> None:
    card = await _card(gateway)
    paid = await gateway.create_payment(_request(card))
    whole = await gateway.refund(paid.id, amount=None, idempotency_key=_key())
    assert whole.amount == AMOUNT
    assert (await gateway.retrieve_payment(paid.id)).amount_refunded == AMOUNT


async def test_listings_keep_to_the_period_oldest_first(gateway: Gateway) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    card = await _card(gateway)
    made = [await gateway.create_payment(_request(card)) for _ in range(3)]
    ids = {p.id for p in made}
    listed = [p for p in await gateway.list_payments(started, None) if p.id in ids]
    assert {p.id for p in listed} == ids
    assert listed == sorted(listed, key=lambda p: (p.created, p.id))
    newest = max(p.created for p in made)
    until = newest + timedelta(seconds=1)
    assert {p.id for p in await gateway.list_payments(started, until)} >= ids
    assert not ids & {p.id for p in await gateway.list_payments(until, None)}
    assert not ids & {
        p.id for p in await gateway.list_payments(started, min(p.created for p in made))
    }
    with pytest.raises(GatewayRequestRejected):
        await gateway.list_payments(started.replace(tzinfo=None), None)
