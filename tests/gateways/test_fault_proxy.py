"""The fault proxy's rates in front of the real localstripe: switched at run time, drawn by each
payment's idempotency key (a declined card stays declined, a 500 or a timeout strikes only the
first attempt), counted; and the proxy as a process of its own, switched over HTTP.

Each gateway failure maps to the right error, and afterwards `find_payments` tells exactly
what the gateway did, which is what a safe retry relies on."""

from __future__ import annotations

import uuid

import pytest

from gateways.errors import (
    CardDeclined,
    GatewayConnectionLost,
    GatewayOutcomeUnknown,
    GatewayProtocolError,
    GatewayTimeout,
    GatewayUnavailable,
)
from gateways.localstripe_server import LocalStripe
from gateways.protocol import PaymentRequest, PaymentStatus
from gateways.stripe_gateway import StripeGateway
from simulators.errors import FaultSpecError
from simulators.fault_proxy import (
    CONTROL_PATH,
    CardFault,
    Fault,
    FaultProxy,
    FaultRates,
    main,
    running_fault_proxy,
)
from simulators.faults import FaultKind
from tests.helpers.http import loopback


async def _request(gateway: StripeGateway) -> PaymentRequest:
    customer = await gateway.create_customer(uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex)
    card = await gateway.save_card(customer.id, "pm_card_visa", idempotency_key=uuid.uuid4().hex)
    return PaymentRequest(
        customer_id=customer.id,
        payment_method_id=card.id,
        amount=23_000,
        currency="VND",
        idempotency_key=f"charge:{uuid.uuid4().hex}:2026-11-24",
        off_session=True,
    )


async def test_declines_switched_on_and_off_at_run_time(
    proxied_gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    request = await _request(proxied_gateway)
    fault_proxy.rates = FaultRates(decline=1.0)
    for _ in range(2):  # a declined card stays declined however often it is tried
        with pytest.raises(CardDeclined) as declined:
            await proxied_gateway.create_payment(request)
        assert declined.value.code == "card_declined"
    assert await proxied_gateway.find_payments(request.idempotency_key) == []
    fault_proxy.rates = FaultRates()
    paid = await proxied_gateway.create_payment(await _request(proxied_gateway))
    assert paid.status is PaymentStatus.SUCCEEDED
    assert fault_proxy.injected == {"card_declined": 2}
    assert fault_proxy.counts()[FaultKind.CARD_DECLINED] == 2


async def test_a_500_strikes_a_payments_first_attempt_only(
    proxied_gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    request = await _request(proxied_gateway)
    fault_proxy.rates = FaultRates(error_500=1.0)
    with pytest.raises(GatewayUnavailable):
        await proxied_gateway.create_payment(request)
    assert await proxied_gateway.find_payments(request.idempotency_key) == []
    retried = await proxied_gateway.create_payment(request)
    assert (retried.status, retried.amount) == (PaymentStatus.SUCCEEDED, 23_000)
    assert fault_proxy.counts() == {
        FaultKind.GATEWAY_500: 1, FaultKind.GATEWAY_TIMEOUT: 0, FaultKind.CARD_DECLINED: 0,
    }  # fmt: skip


async def test_a_timeout_holds_the_answer_of_a_payment_the_gateway_made(
    proxied_gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    request = await _request(proxied_gateway)
    fault_proxy.rates = FaultRates(timeout=1.0)
    with pytest.raises(GatewayTimeout, match="held by the fault proxy"):
        await proxied_gateway.create_payment(request)
    await fault_proxy.drain()
    [made] = await proxied_gateway.find_payments(request.idempotency_key)
    assert made.status is PaymentStatus.SUCCEEDED
    assert fault_proxy.injected == {"delay": 1}
    assert [r.fault for r in fault_proxy.log if r.fault] == [Fault.DELAY]


async def test_queued_faults_go_first_and_a_decline_can_be_queued(
    proxied_gateway: StripeGateway, fault_proxy: FaultProxy
) -> None:
    request = await _request(proxied_gateway)
    fault_proxy.inject([CardFault.DECLINED])
    with pytest.raises(CardDeclined):
        await proxied_gateway.create_payment(request)
    assert (await proxied_gateway.create_payment(request)).status is PaymentStatus.SUCCEEDED


def test_the_same_seed_strikes_the_same_payments() -> None:
    rates = FaultRates(error_500=0.1, timeout=0.05, decline=0.2)
    keys = [f"charge:acct-{n}:2026-11-24" for n in range(2000)]
    drawn = [rates.draw(7, key) for key in keys]
    assert drawn == [rates.draw(7, key) for key in keys]
    assert drawn != [rates.draw(8, key) for key in keys]
    shares = {fault: drawn.count(fault) / len(keys) for fault in set(drawn)}
    assert shares[CardFault.DECLINED] == pytest.approx(0.2, abs=0.04)
    assert shares[Fault.ERROR_500] == pytest.approx(0.1, abs=0.03)
    assert shares[Fault.DELAY] == pytest.approx(0.05, abs=0.02)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"error_500": 2}, "rate error_500 must be a number 0..1"),
        ({"decline": float("nan")}, "rate decline must be a number 0..1"),
        ({"timeout": "often"}, "rate timeout must be a number 0..1"),
        ({"decline": 0.6, "error_500": 0.6}, "together must be at most 1"),
        ({"declines": 0.1}, "unknown rate 'declines'"),
        ([0.1], "must be an object"),
    ],
)
def test_bad_rates_are_refused_in_one_line(document: object, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message) as refused:
        FaultRates.from_json(document)
    assert "\n" not in str(refused.value)


async def test_the_proxy_as_a_process_is_switched_over_http(
    localstripe_server: LocalStripe,
) -> None:
    with running_fault_proxy(localstripe_server.base_url, seed=3) as proxy:
        async with StripeGateway(localstripe_server.api_key, proxy.url) as gateway:
            request = await _request(gateway)
            assert (await gateway.create_payment(request)).status is PaymentStatus.SUCCEEDED
            proxy.set_rates(FaultRates(decline=1.0))
            with pytest.raises(CardDeclined):
                await gateway.create_payment(await _request(gateway))
        assert proxy.injected() == {"card_declined": 1}
        assert proxy.counts()[FaultKind.CARD_DECLINED] == 1
        async with loopback(proxy.url, timeout=10) as control:
            refused = await control.put(CONTROL_PATH, json={"error_500": 7})
            assert refused.status_code == 400
            assert refused.json() == {"error": "rate error_500 must be a number 0..1, got 7"}
            assert (await control.put(CONTROL_PATH, content=b"{")).status_code == 400


def test_the_process_refuses_bad_rates_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--upstream", "http://127.0.0.1:9", "--decline", "2"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: rate decline must be a number 0..1, got 2.0\n"


# A 500 (nothing made) and a timeout (made) are the rate tests' above.
@pytest.mark.parametrize(
    ("fault", "error", "gateway_acted"),
    [
        (Fault.DROP_RESPONSE, GatewayConnectionLost, True),
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
