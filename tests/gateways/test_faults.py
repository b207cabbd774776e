"""Gateway failures through the fault proxy: each maps to the right error, and afterwards
`find_payments` tells exactly what the gateway did, which is what a safe retry relies on."""

from __future__ import annotations

import uuid

import pytest

from gateways.errors import (
    GatewayConnectionLost,
    GatewayOutcomeUnknown,
    GatewayProtocolError,
    GatewayTimeout,
    GatewayUnavailable,
)
from gateways.protocol import PaymentRequest, PaymentStatus
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import Fault, FaultProxy


async def _request(gateway: StripeGateway) -> PaymentRequest:
    customer = await gateway.create_customer(uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex)
    card = await gateway.save_card(customer.id, "pm_card_visa", idempotency_key=uuid.uuid4().hex)
    return PaymentRequest(
        customer_id=customer.id,
        payment_method_id=card.id,
        amount=23_000,
        currency="VND",
        idempotency_key=f"charge:{uuid.uuid4().hex}:2025-03-14",
        off_session=True,
    )


@pytest.mark.parametrize(
    ("fault", "error", "gateway_acted"),
    [
        (Fault.ERROR_500, GatewayUnavailable, False),
        (Fault.DROP_RESPONSE, GatewayConnectionLost, True),
        (Fault.DELAY, GatewayTimeout, True),
        (Fault.GARBLED, GatewayProtocolError, True),
    ],
)
async def test_fault_maps_to_outcome_unknown_and_lookup_tells_the_truth(
    proxied_gateway: StripeGateway,
    fault_proxy: FaultProxy,
    fault: Fault,
    error: type[GatewayOutcomeUnknown],
    gateway_acted: bool,
) -> None:
    request = await _request(proxied_gateway)
    fault_proxy.inject([fault])
    with pytest.raises(error):
        await proxied_gateway.create_payment(request)
    assert fault_proxy.pending_faults == 0

    found = await proxied_gateway.find_payments(request.idempotency_key)
    if gateway_acted:
        assert [p.status for p in found] == [PaymentStatus.SUCCEEDED]
        assert found[0].amount == request.amount
    else:
        assert found == []


async def test_lookup_then_create_only_if_missing_charges_once(
    proxied_gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    """The retry rule the payments layer follows, run against a run of faults."""
    request = await _request(proxied_gateway)
    fault_proxy.inject([Fault.ERROR_500, Fault.DELAY, Fault.DROP_RESPONSE])
    for _ in range(4):
        try:
            if not await proxied_gateway.find_payments(request.idempotency_key):
                await proxied_gateway.create_payment(request)
        except GatewayOutcomeUnknown:
            continue
    # 500: nothing made, try again; timeout: made, and the lookup sees it, so the last fault
    # (meant for a second create) is never used.
    assert fault_proxy.pending_faults == 1
    found = await proxied_gateway.find_payments(request.idempotency_key)
    assert [(p.status, p.amount) for p in found] == [(PaymentStatus.SUCCEEDED, 23_000)]


async def test_failed_lookup_is_itself_outcome_unknown(
    proxied_gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    fault_proxy.inject([Fault.ERROR_500], methods=["GET"])
    with pytest.raises(GatewayUnavailable):
        await proxied_gateway.find_payments("charge:any:2025-03-14")
