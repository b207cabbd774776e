"""Our ISO 4217 minor units against the unit Stripe counts in, currency by currency."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.errors import GatewayProtocolError, GatewayRequestRejected
from gateways.stripe_amounts import from_stripe_amount, to_stripe_amount
from ticketing.money import currency_exponent


@pytest.mark.parametrize(
    ("amount", "currency", "stripe"),
    [
        (15_000, "VND", 15_000),  # zero-decimal on both sides
        (425, "USD", 425),
        (425, "cad", 425),
        (425, "SGD", 425),
        (500, "JPY", 500),
        (5, "ISK", 500),  # ISO: no decimals; Stripe: two, always 00
        (1_200, "MGA", 12),  # ISO: two decimals; Stripe: zero-decimal
        (1_230, "BHD", 1_230),  # three decimals, last one 0
    ],
)
def test_amounts_convert_both_ways(amount: int, currency: str, stripe: int) -> None:
    assert to_stripe_amount(amount, currency) == stripe
    assert from_stripe_amount(stripe, currency) == amount


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (1_250, "MGA", "whole MGA only"),
        (1_234, "BHD", "multiple of 10"),
        (1_000, "UGX", "refused rather than mis-scaled"),
        (100, "XAU", "no minor unit"),
        (100, "ABC", "unknown currency"),
        (0, "VND", "positive"),
        (-5, "VND", "positive"),
    ],
)
def test_amounts_stripe_cannot_take_are_refused(amount: int, currency: str, message: str) -> None:
    with pytest.raises(GatewayRequestRejected, match=message):
        to_stripe_amount(amount, currency)


def test_a_fraction_reported_by_the_gateway_is_a_protocol_error() -> None:
    with pytest.raises(GatewayProtocolError):
        from_stripe_amount(501, "ISK")
    with pytest.raises(GatewayProtocolError):
        from_stripe_amount(100, "UGX")


@given(
    st.sampled_from(["VND", "USD", "EUR", "GBP", "JPY", "KRW", "CAD", "SGD", "HUF", "TWD"]),
    st.integers(1, 10**12),
)
def test_where_iso_and_stripe_agree_amounts_pass_unchanged(currency: str, amount: int) -> None:
    assert currency_exponent(currency) in (0, 2)
    assert to_stripe_amount(amount, currency) == amount
    assert from_stripe_amount(amount, currency) == amount
