"""The Stripe adapter against a real localstripe: customers, cards, payments, refunds, listing."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateways.errors import (
    CardDeclined,
    GatewayAuthError,
    GatewayNotFound,
    GatewayRequestRejected,
    GatewayUnavailable,
)
from gateways.localstripe_server import LocalStripe
from gateways.protocol import IDEMPOTENCY_METADATA_KEY, PaymentRequest, PaymentStatus, RefundStatus
from gateways.stripe_gateway import StripeGateway
from tests.helpers.http import loopback

# localstripe's test cards: this one attaches fine but every charge on it is declined.
DECLINES_ON_CHARGE = "pm_card_chargeCustomerFail"
DECLINES_ON_ATTACH = "pm_card_visa_chargeDeclined"


def _key(kind: str) -> str:
    return f"{kind}:{uuid.uuid4().hex}"


async def _customer_with_card(
    gateway: StripeGateway, card: str = "pm_card_visa"
) -> tuple[str, str]:
    account = uuid.uuid4().hex
    customer = await gateway.create_customer(account, idempotency_key=_key("customer"))
    saved = await gateway.save_card(customer.id, card, idempotency_key=_key("card"))
    return customer.id, saved.id


def _request(customer: str, card: str, amount: int, *, off_session: bool = False) -> PaymentRequest:
    return PaymentRequest(
        customer_id=customer,
        payment_method_id=card,
        amount=amount,
        currency="VND",
        idempotency_key=_key("charge"),
        metadata={"purpose": "test"},
        off_session=off_session,
    )


async def test_customer_can_be_found_by_account(gateway: StripeGateway) -> None:
    account = uuid.uuid4().hex
    created = await gateway.create_customer(account, idempotency_key=_key("customer"))
    assert created.id.startswith("cus_")
    assert await gateway.find_customer(account) == created
    assert await gateway.find_customer("no-such-account") is None


async def test_customer_email_is_sent_only_when_given(
    gateway: StripeGateway, localstripe_server: LocalStripe
) -> None:
    with_email = await gateway.create_customer(
        uuid.uuid4().hex, idempotency_key=_key("c"), email="rider@example.com"
    )
    without = await gateway.create_customer(uuid.uuid4().hex, idempotency_key=_key("c"))
    async with loopback() as client:
        stored = [
            (
                await client.get(
                    f"{localstripe_server.base_url}/v1/customers/{customer.id}",
                    headers={"Authorization": f"Bearer {localstripe_server.api_key}"},
                )
            ).json()
            for customer in (with_email, without)
        ]
    assert [customer.get("email") for customer in stored] == ["rider@example.com", None]


async def test_saved_card_is_attached_to_customer(gateway: StripeGateway) -> None:
    customer = await gateway.create_customer(uuid.uuid4().hex, idempotency_key=_key("c"))
    card = await gateway.save_card(customer.id, "pm_card_visa", idempotency_key=_key("card"))
    assert card.customer_id == customer.id
    assert (card.brand, card.last4) == ("visa", "4242")
    assert card.id.startswith("pm_")
    assert card.id != "pm_card_visa"


async def test_card_declined_when_attaching(gateway: StripeGateway) -> None:
    customer = await gateway.create_customer(uuid.uuid4().hex, idempotency_key=_key("c"))
    with pytest.raises(CardDeclined) as declined:
        await gateway.save_card(customer.id, DECLINES_ON_ATTACH, idempotency_key=_key("card"))
    assert declined.value.code == "card_declined"


async def test_top_up_succeeds_with_vnd_as_zero_decimal(
    gateway: StripeGateway, localstripe_server: LocalStripe
) -> None:
    customer, card = await _customer_with_card(gateway)
    request = _request(customer, card, 50_000)
    payment = await gateway.create_payment(request)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert (payment.amount, payment.currency) == (50_000, "VND")
    assert payment.idempotency_key == request.idempotency_key
    assert payment.metadata["purpose"] == "test"
    assert await gateway.retrieve_payment(payment.id) == payment
    # What the gateway itself stored: 50,000 VND is sent as amount=50000, not 5,000,000.
    async with loopback() as client:
        answer = await client.get(
            f"{localstripe_server.base_url}/v1/payment_intents/{payment.id}",
            headers={"Authorization": f"Bearer {localstripe_server.api_key}"},
        )
    raw = answer.json()
    assert (raw["amount"], raw["currency"]) == (50_000, "vnd")
    assert raw["metadata"][IDEMPOTENCY_METADATA_KEY] == request.idempotency_key


async def test_off_session_daily_charge_is_found_by_our_key(gateway: StripeGateway) -> None:
    customer, card = await _customer_with_card(gateway)
    request = _request(customer, card, 27_000, off_session=True)
    payment = await gateway.create_payment(request)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert await gateway.find_payments(request.idempotency_key) == [payment]
    assert await gateway.find_payments(_key("never-used")) == []


async def test_decline_on_charge_names_the_failed_payment(gateway: StripeGateway) -> None:
    customer, card = await _customer_with_card(gateway, DECLINES_ON_CHARGE)
    request = _request(customer, card, 31_000, off_session=True)
    with pytest.raises(CardDeclined) as declined:
        await gateway.create_payment(request)
    assert declined.value.code == "card_declined"
    assert declined.value.payment_id is not None
    failed = await gateway.retrieve_payment(declined.value.payment_id)
    assert failed.status is PaymentStatus.FAILED
    assert failed.decline_code == "card_declined"
    assert await gateway.find_payments(request.idempotency_key) == [failed]


async def test_partial_then_full_refund(gateway: StripeGateway) -> None:
    customer, card = await _customer_with_card(gateway)
    payment = await gateway.create_payment(_request(customer, card, 40_000))
    key = _key("refund")
    partial = await gateway.refund(payment.id, amount=15_000, idempotency_key=key)
    assert (partial.amount, partial.currency, partial.status) == (
        15_000,
        "VND",
        RefundStatus.SUCCEEDED,
    )
    assert partial.payment_id == payment.id
    assert (await gateway.retrieve_payment(payment.id)).amount_refunded == 15_000
    assert await gateway.find_refunds(payment.id, key) == [partial]

    # localstripe does not cap refunds at what is left (a payments-layer duty), so ask exactly.
    rest = await gateway.refund(payment.id, amount=25_000, idempotency_key=_key("refund"))
    assert rest.amount == 25_000
    assert (await gateway.retrieve_payment(payment.id)).amount_refunded == 40_000


async def test_refund_without_amount_refunds_everything(gateway: StripeGateway) -> None:
    customer, card = await _customer_with_card(gateway)
    payment = await gateway.create_payment(_request(customer, card, 18_000))
    refund = await gateway.refund(payment.id, amount=None, idempotency_key=_key("refund"))
    assert refund.amount == 18_000


async def test_refund_of_a_failed_payment_is_rejected(gateway: StripeGateway) -> None:
    customer, card = await _customer_with_card(gateway, DECLINES_ON_CHARGE)
    with pytest.raises(CardDeclined) as declined:
        await gateway.create_payment(_request(customer, card, 10_000))
    assert declined.value.payment_id is not None
    with pytest.raises(GatewayRequestRejected):
        await gateway.refund(declined.value.payment_id, amount=None, idempotency_key=_key("r"))


async def test_listing_by_time_range_for_reconciliation(gateway: StripeGateway) -> None:
    customer, card = await _customer_with_card(gateway)
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    payment = await gateway.create_payment(_request(customer, card, 12_000))
    refund = await gateway.refund(payment.id, amount=2_000, idempotency_key=_key("r"))
    after = datetime.now(UTC) + timedelta(seconds=2)
    assert payment.id in {p.id for p in await gateway.list_payments(before, after)}
    assert refund.id in {r.id for r in await gateway.list_refunds(before, after)}
    long_ago = before - timedelta(days=365)
    assert payment.id not in {p.id for p in await gateway.list_payments(long_ago, before)}
    assert refund.id not in {r.id for r in await gateway.list_refunds(long_ago, before)}


@pytest.mark.parametrize("amount", [0, -1, 1.5, 20_000.0, True])
async def test_non_integer_or_non_positive_amounts_never_reach_the_gateway(
    gateway: StripeGateway, amount: object
) -> None:
    request = replace(_request("cus_x", "pm_x", 1), amount=amount)  # type: ignore[arg-type]
    with pytest.raises(GatewayRequestRejected, match="amount"):
        await gateway.create_payment(request)


async def test_unsupported_currency_is_refused(gateway: StripeGateway) -> None:
    request = replace(_request("cus_x", "pm_x", 1), currency="UGX")
    with pytest.raises(GatewayRequestRejected, match="currency"):
        await gateway.create_payment(request)


async def test_a_currency_stripe_scales_differently_round_trips(gateway: StripeGateway) -> None:
    # 7 ISK: Stripe's amount is 700 (two decimals, always 00); ours stays 7.
    customer, card = await _customer_with_card(gateway)
    payment = await gateway.create_payment(replace(_request(customer, card, 7), currency="ISK"))
    assert (payment.amount, payment.currency) == (7, "ISK")
    refund = await gateway.refund(payment.id, amount=3, idempotency_key=_key("refund"))
    assert refund.amount == 3
    raw = await gateway._client.v1.payment_intents.retrieve_async(payment.id)
    assert raw.to_dict()["amount"] == 700


async def test_unknown_payment_is_not_found(gateway: StripeGateway) -> None:
    with pytest.raises(GatewayNotFound):
        await gateway.retrieve_payment("pi_doesnotexist")


async def test_bad_api_key_is_an_auth_error(localstripe_server: LocalStripe) -> None:
    async with StripeGateway("pk_not_a_secret_key", localstripe_server.base_url) as gateway:
        with pytest.raises(GatewayAuthError):
            await gateway.find_customer("anyone")


async def test_nobody_listening_is_unavailable(localstripe_server: LocalStripe) -> None:
    async with StripeGateway(localstripe_server.api_key, "http://127.0.0.1:9", timeout=2) as gw:
        with pytest.raises(GatewayUnavailable):
            await gw.retrieve_payment("pi_x")
