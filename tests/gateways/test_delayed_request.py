"""A request held in the network past the client's timeout reaches the gateway after all.

The lookup-then-create retry (see test_faults.py) cannot see a request that has not arrived
yet, so the retry creates a second payment when the late first request is acted on as well. With a
gateway that ignores idempotency keys (localstripe) both succeed.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from gateways.errors import GatewayTimeout
from gateways.localstripe_server import LocalStripe
from gateways.protocol import CHARGE_KEY_METADATA_KEY, PaymentRequest, PaymentStatus
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import FaultProxy, RequestFault
from tests.helpers.http import loopback
from ticketing.money import Money
from ticketing.payment_flows.duplicates import DuplicateAction
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import daily_charge_key
from ticketing.unit_of_work import UnitOfWorkFactory

DAY = date(2025, 3, 15)
AMOUNT = Money(23_000, "VND")


async def test_held_request_times_out_then_reaches_the_gateway(
    proxied_gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    customer = await proxied_gateway.create_customer("acc", idempotency_key=uuid.uuid4().hex)
    card = await proxied_gateway.save_card(
        customer.id, "pm_card_visa", idempotency_key=uuid.uuid4().hex
    )
    request = PaymentRequest(
        customer_id=customer.id,
        payment_method_id=card.id,
        amount=AMOUNT.amount,
        currency=AMOUNT.currency,
        idempotency_key=f"charge:{uuid.uuid4().hex}",
        off_session=True,
    )
    fault_proxy.inject([RequestFault.DELAY])
    # Timed out because the proxy holds it, not by a clock (tests.helpers.fault_proxy).
    with pytest.raises(GatewayTimeout, match="held by the fault proxy"):
        await proxied_gateway.create_payment(request)
    assert await proxied_gateway.find_payments(request.idempotency_key) == []

    await fault_proxy.drain()  # only now does the held request reach the gateway
    [arrived] = await proxied_gateway.find_payments(request.idempotency_key)
    assert (arrived.status, arrived.amount) == (PaymentStatus.SUCCEEDED, AMOUNT.amount)


async def test_daily_charge_held_past_the_timeout_ends_charged_once(
    uow_factory: UnitOfWorkFactory, proxied_gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    """The bug was: the account-day ended charged twice at the gateway and the ledger, which
    recorded the retry's payment only, did not notice. Now daily charges are only authorised
    and the one the attempt recorded is captured: the late one moves no money, and the
    duplicate sweep voids it and reports it."""
    started = datetime.now(UTC) - timedelta(seconds=1)
    payments = PaymentsService(uow_factory, proxied_gateway, webhook_secret="whsec_delayed")
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, "pm_card_visa")
    fault_proxy.inject([RequestFault.DELAY])
    with pytest.raises(GatewayTimeout):
        await payments.charge_day(account, DAY, AMOUNT)
    retried = await payments.charge_day(account, DAY, AMOUNT)  # the retry: lookup, then create
    await fault_proxy.drain()  # the first request arrives and is charged too
    assert await payments.charge_day(account, DAY, AMOUNT) == retried  # a re-run changes nothing

    key = daily_charge_key(account, DAY)
    at_gateway = await proxied_gateway.find_payments(key)
    kept = sum(
        p.amount - p.amount_refunded for p in at_gateway if p.status is PaymentStatus.SUCCEEDED
    )
    assert kept == AMOUNT.amount, f"{len(at_gateway)} payments for {key}: {at_gateway}"
    [late] = [p for p in at_gateway if p.id != retried.gateway_payment_id]
    assert late.status is PaymentStatus.REQUIRES_CAPTURE

    until = datetime.now(UTC) + timedelta(seconds=2)
    [duplicate] = await payments.void_duplicate_charges(started, until)
    assert (duplicate.payment_id, duplicate.charge_key) == (late.id, key)
    assert (duplicate.action, duplicate.amount) == (DuplicateAction.VOIDED, AMOUNT)
    assert (await proxied_gateway.retrieve_payment(late.id)).status is PaymentStatus.CANCELED
    assert await payments.void_duplicate_charges(started, until) == []  # once only
    assert await payments.charge_day(account, DAY, AMOUNT) == retried
    moved = {t.source_id for t in await proxied_gateway.list_balance_transactions(started, until)}
    assert late.charge_id not in moved


async def test_a_captured_duplicate_is_refunded(
    uow_factory: UnitOfWorkFactory, gateway: StripeGateway
) -> None:
    """A duplicate captured anyway (e.g. made before manual capture) is refunded in full."""
    started = datetime.now(UTC) - timedelta(seconds=1)
    payments = PaymentsService(uow_factory, gateway)
    account = "acc-" + secrets.token_hex(6)
    card = await payments.save_card(account, "pm_card_visa")
    charged = await payments.charge_day(account, DAY, AMOUNT)
    key = daily_charge_key(account, DAY)
    async with uow_factory() as uow:
        customer = (await uow.payments.saved_card(account)) or pytest.fail("no card")
    extra = await gateway.create_payment(
        PaymentRequest(
            customer_id=customer.customer_id,
            payment_method_id=card,
            amount=AMOUNT.amount,
            currency=AMOUNT.currency,
            idempotency_key=key,
            metadata={CHARGE_KEY_METADATA_KEY: key},
            off_session=True,
        )
    )
    assert extra.status is PaymentStatus.SUCCEEDED
    until = datetime.now(UTC) + timedelta(seconds=2)
    [duplicate] = await payments.void_duplicate_charges(started, until)
    assert (duplicate.payment_id, duplicate.action) == (extra.id, DuplicateAction.REFUNDED)
    refunded = await gateway.retrieve_payment(extra.id)
    assert refunded.amount_refunded == AMOUNT.amount
    kept = await gateway.retrieve_payment(charged.gateway_payment_id or "")
    assert (kept.status, kept.amount_refunded) == (PaymentStatus.SUCCEEDED, 0)
    assert await payments.void_duplicate_charges(started, until) == []


async def test_localstripe_supports_what_the_fix_needs(
    gateway: StripeGateway, localstripe_server: LocalStripe
) -> None:
    """Manual capture: authorise, then capture the attempt the ledger knows and cancel the
    other; a cancelled authorisation moves no money. No metadata search endpoint."""
    customer = await gateway.create_customer("acc", idempotency_key=uuid.uuid4().hex)
    card = await gateway.save_card(customer.id, "pm_card_visa", idempotency_key=uuid.uuid4().hex)
    form = {
        "amount": "23000",
        "currency": "vnd",
        "customer": customer.id,
        "payment_method": card.id,
        "capture_method": "manual",
        "confirm": "true",
        "metadata[faregate_charge_key]": "charge:acc:2025-03-15",
    }
    auth = {"Authorization": f"Bearer {localstripe_server.api_key}"}
    async with loopback(localstripe_server.base_url, headers=auth) as http:
        kept, extra = [(await http.post("/v1/payment_intents", data=form)).json() for _ in "ab"]
        assert kept["status"] == extra["status"] == "requires_capture"
        captured = (await http.post(f"/v1/payment_intents/{kept['id']}/capture")).json()
        cancelled = (await http.post(f"/v1/payment_intents/{extra['id']}/cancel")).json()
        assert (captured["status"], cancelled["status"]) == ("succeeded", "canceled")
        assert (
            await http.get("/v1/payment_intents/search", params={"query": "x"})
        ).status_code == 404

    assert (await gateway.retrieve_payment(extra["id"])).status is PaymentStatus.CANCELED
    start = datetime.now(UTC) - timedelta(minutes=1)
    moved = {
        t.source_id
        for t in await gateway.list_balance_transactions(
            start, datetime.now(UTC) + timedelta(seconds=2)
        )
    }
    assert kept["latest_charge"]["id"] in moved
    assert extra["latest_charge"]["id"] not in moved
