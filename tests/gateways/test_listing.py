"""Reconciliation listings against a real localstripe: every page followed, the period kept
by the adapter (localstripe ignores or refuses `created` filters), balance transactions with
their fees, and a failing page never passing for a short list."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateways import stripe_gateway
from gateways.errors import GatewayProtocolError, GatewayRequestRejected, GatewayUnavailable
from gateways.localstripe_server import LocalStripe, running_localstripe
from gateways.protocol import Payment, PaymentRequest, RefundStatus
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import Fault, FaultProxy
from tests.helpers.http import loopback


async def _paid(gateway: StripeGateway, amounts: list[int]) -> list[Payment]:
    customer = await gateway.create_customer(uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex)
    card = await gateway.save_card(customer.id, "pm_card_visa", idempotency_key=uuid.uuid4().hex)
    return [
        await gateway.create_payment(
            PaymentRequest(
                customer_id=customer.id,
                payment_method_id=card.id,
                amount=amount,
                currency="VND",
                idempotency_key=f"charge:{uuid.uuid4().hex}",
                off_session=True,
            )
        )
        for amount in amounts
    ]


@pytest.fixture(scope="module")
def localstripe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """This module's own localstripe: its listings hold only what these tests made, and the
    session's shared one does not grow."""
    with running_localstripe(tmp_path_factory.mktemp("localstripe-listing")) as server:
        yield server


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(stripe_gateway, "_LIST_PAGE_SIZE", 3)
    return 3


async def test_every_page_is_followed_and_each_object_listed_once(
    proxied_gateway: StripeGateway, fault_proxy: FaultProxy, small_pages: int
) -> None:
    start = _now() - timedelta(seconds=1)
    made = await _paid(proxied_gateway, [1_000 * n for n in range(1, 8)])
    fault_proxy.log.clear()
    listed = await proxied_gateway.list_payments(start, _now() + timedelta(seconds=2))

    ids = [p.id for p in listed]
    assert sorted(ids) == sorted(p.id for p in made)
    assert [(p.created, p.id) for p in listed] == sorted((p.created, p.id) for p in listed)
    pages = [r for r in fault_proxy.log if r.path == "/v1/payment_intents"]
    assert len(pages) >= -(-len(made) // small_pages)  # at least ceil(7 / 3) pages


async def test_period_is_half_open_and_kept_by_the_adapter(gateway: StripeGateway) -> None:
    [payment] = await _paid(gateway, [4_200])
    created = payment.created
    assert payment.id in {
        p.id for p in await gateway.list_payments(created, created + timedelta(seconds=1))
    }
    assert payment.id not in {
        p.id for p in await gateway.list_payments(created - timedelta(hours=1), created)
    }
    assert payment.id not in {
        p.id
        for p in await gateway.list_payments(
            created + timedelta(seconds=1), created + timedelta(hours=1)
        )
    }


async def test_refunds_name_their_payment_and_charge(gateway: StripeGateway) -> None:
    start = _now() - timedelta(seconds=1)
    [payment] = await _paid(gateway, [30_000])
    partial = await gateway.refund(payment.id, amount=5_000, idempotency_key=uuid.uuid4().hex)
    listed = {r.id: r for r in await gateway.list_refunds(start, _now() + timedelta(seconds=2))}
    refund = listed[partial.id]
    assert (refund.payment_id, refund.amount, refund.currency) == (payment.id, 5_000, "VND")
    assert refund.charge_id == payment.charge_id is not None
    assert refund.status is RefundStatus.SUCCEEDED


async def test_each_payment_lists_its_own_refunds_as_they_come(gateway: StripeGateway) -> None:
    """The launcher keeps each charge's refunds in an index rebuilt when refunds change: a
    refund made after a listing shows in the next one, on its payment alone."""
    start = _now() - timedelta(seconds=1)
    first, second = await _paid(gateway, [10_000, 20_000])

    async def refunded() -> dict[str, int]:
        listed = await gateway.list_payments(start, _now() + timedelta(seconds=2))
        return {p.id: p.amount_refunded for p in listed if p.id in (first.id, second.id)}

    await gateway.refund(first.id, amount=1_000, idempotency_key=uuid.uuid4().hex)
    assert await refunded() == {first.id: 1_000, second.id: 0}
    await gateway.refund(second.id, amount=2_000, idempotency_key=uuid.uuid4().hex)
    await gateway.refund(first.id, amount=3_000, idempotency_key=uuid.uuid4().hex)
    assert await refunded() == {first.id: 4_000, second.id: 2_000}


async def test_balance_transactions_carry_charges_refunds_and_fees(gateway: StripeGateway) -> None:
    start = _now() - timedelta(seconds=1)
    [payment] = await _paid(gateway, [50_000])
    refund = await gateway.refund(payment.id, amount=7_000, idempotency_key=uuid.uuid4().hex)
    txns = await gateway.list_balance_transactions(start, _now() + timedelta(seconds=2))
    by_source = {t.source_id: t for t in txns}

    charge_txn, refund_txn = by_source[payment.charge_id], by_source[refund.id]
    assert (charge_txn.type, charge_txn.amount, charge_txn.currency) == ("charge", 50_000, "VND")
    assert (refund_txn.type, refund_txn.amount) == ("refund", -7_000)
    for txn in (charge_txn, refund_txn):
        # localstripe takes no fees; the fields are there so real Stripe's fees reconcile.
        assert (txn.fee, txn.net, txn.fees) == (0, txn.amount, ())


async def test_balance_transactions_are_paged_too(gateway: StripeGateway, small_pages: int) -> None:
    start = _now() - timedelta(seconds=1)
    made = await _paid(gateway, [100, 200, 300, 400, 500])
    txns = await gateway.list_balance_transactions(start, _now() + timedelta(seconds=2))
    assert {p.charge_id for p in made} <= {t.source_id for t in txns}
    assert len({t.id for t in txns}) == len(txns)


@pytest.mark.parametrize(
    ("fault", "error"),
    [(Fault.ERROR_500, GatewayUnavailable), (Fault.GARBLED, GatewayProtocolError)],
    ids=["second-page-500", "second-page-not-json"],
)
async def test_a_failing_page_raises_instead_of_a_short_list(
    proxied_gateway: StripeGateway,
    fault_proxy: FaultProxy,
    small_pages: int,
    fault: Fault,
    error: type[Exception],
) -> None:
    """The second page's request fails (an error answer, or a body that is not JSON: pages are
    read as raw JSON, not through the SDK's objects): the first page alone must not come back
    as the answer, nor pass for an empty or short listing; the gateway's error is raised."""
    start = _now() - timedelta(seconds=1)
    await _paid(proxied_gateway, [1, 2, 3, 4])
    fault_proxy.inject([Fault.PASS, fault], methods=["GET"])
    with pytest.raises(error):
        await proxied_gateway.list_payments(start, _now() + timedelta(seconds=2))
    assert fault_proxy.pending_faults == 0


async def test_naive_periods_are_refused(gateway: StripeGateway) -> None:
    with pytest.raises(GatewayRequestRejected, match="timezone"):
        await gateway.list_refunds(datetime(2025, 3, 14), datetime(2025, 3, 15))


async def test_localstripe_refuses_server_side_created_filters(
    localstripe_server: LocalStripe,
) -> None:
    """Why the adapter filters by itself: the documented Stripe filter is refused here."""
    async with StripeGateway(
        localstripe_server.api_key, localstripe_server.base_url, server_filters_created=True
    ) as gateway:
        with pytest.raises(GatewayRequestRejected, match="created"):
            await gateway.list_payments(_now() - timedelta(days=1), _now())


async def test_a_listing_that_goes_back_is_refused_not_looped(
    gateway: StripeGateway, localstripe_server: LocalStripe, small_pages: int
) -> None:
    """localstripe restarts from the first object when `starting_after` names one it no
    longer has: the pager must neither loop for ever nor return a short list."""
    await _paid(gateway, [1, 2, 3, 4, 5, 6, 7])
    pages = gateway._list("payment_intents")
    first_page = [await anext(pages) for _ in range(small_pages)]
    auth = {"Authorization": f"Bearer {localstripe_server.api_key}"}
    async with loopback(localstripe_server.base_url, headers=auth) as http:
        deleted = await http.delete(f"/v1/payment_intents/{first_page[-1]['id']}")
    assert deleted.status_code == 200
    with pytest.raises(GatewayProtocolError, match="went back"):
        async for _ in pages:
            pass
