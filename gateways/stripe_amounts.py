"""Amounts between our minor units (ISO 4217) and the unit Stripe counts in.

Faregate keeps every amount as an int of the currency's ISO 4217 minor unit, read from the
one table of minor units (the `iso4217` package, which `ticketing.money` reads too). Stripe's
`amount` is "the smallest currency unit" by Stripe's own list
(https://docs.stripe.com/currencies#zero-decimal, #three-decimal and #special-cases), which
is the ISO unit for most currencies but not all:

- ISK: ISO has no minor unit; Stripe still takes two decimals that must be 00, so 5 ISK is 500.
- MGA: ISO has two decimals; Stripe counts it zero-decimal, so only whole ariary (ISO amounts
  divisible by 100) can be charged.
- BHD, JOD, KWD, OMR, TND: three decimals on both sides, but Stripe refuses a last digit
  other than 0, so those amounts are refused here before the request.
- UGX: ISO zero-decimal, and in Stripe's zero-decimal list, but Stripe also describes a
  two-decimal legacy form for it; refused until checked against a real Stripe account
  rather than risk a charge 100 times off.
- HUF and TWD: two decimals on both sides for charges (Stripe's difference is for payouts,
  which this adapter does not make).

Amounts Stripe sends back (payments, refunds, amounts refunded) convert the other way.
"""

from __future__ import annotations

from collections.abc import Mapping

import iso4217

from gateways.errors import GatewayProtocolError, GatewayRequestRejected

# Stripe's exponent where it differs from ISO 4217's.
STRIPE_EXPONENT_OVERRIDES: Mapping[str, int] = {"ISK": 2, "MGA": 0}
# Currencies whose Stripe amounts must be a multiple of this many Stripe units.
STRIPE_AMOUNT_STEP: Mapping[str, int] = {
    "BHD": 10,
    "JOD": 10,
    "KWD": 10,
    "OMR": 10,
    "TND": 10,
}
UNSUPPORTED: Mapping[str, str] = {
    "UGX": "Stripe documents two representations for UGX; refused rather than mis-scaled",
}


def iso_exponent(currency: str) -> int:
    """ISO 4217 minor-unit exponent of the upper-case code `currency`."""
    try:
        exponent = iso4217.Currency(currency).exponent
    except ValueError:
        raise GatewayRequestRejected(f"unknown currency {currency!r}") from None
    if exponent is None:
        raise GatewayRequestRejected(f"{currency} has no minor unit; it cannot be charged")
    return exponent


def stripe_exponent(currency: str) -> int:
    """The number of decimals Stripe's `amount` has for `currency`."""
    if currency in UNSUPPORTED:
        raise GatewayRequestRejected(f"currency {currency}: {UNSUPPORTED[currency]}")
    return STRIPE_EXPONENT_OVERRIDES.get(currency, iso_exponent(currency))


def to_stripe_amount(amount: int, currency: str) -> int:
    """Stripe's `amount` for `amount` ISO minor units of `currency` (upper or lower case)."""
    if type(amount) is not int:
        raise GatewayRequestRejected(f"amount must be an int of minor units, not {amount!r}")
    if amount <= 0:
        raise GatewayRequestRejected(f"amount must be positive, not {amount}")
    code = currency.upper()
    shift = stripe_exponent(code) - iso_exponent(code)
    if shift >= 0:
        converted = amount * _power_of_ten(shift)
    else:
        converted, rest = divmod(amount, _power_of_ten(-shift))
        if rest:
            raise GatewayRequestRejected(
                f"{amount} {code} minor units cannot be charged: Stripe takes whole {code} only"
            )
    step = STRIPE_AMOUNT_STEP.get(code, 1)
    if converted % step:
        raise GatewayRequestRejected(
            f"{amount} {code} minor units cannot be charged: Stripe needs a multiple of {step}"
        )
    return converted


def from_stripe_amount(amount: int, currency: str) -> int:
    """Our ISO minor units for an `amount` Stripe reported in `currency`."""
    code = currency.upper()
    try:
        shift = stripe_exponent(code) - iso_exponent(code)
    except GatewayRequestRejected as exc:
        raise GatewayProtocolError(f"the gateway answered in {currency!r}: {exc}") from None
    if shift <= 0:
        return amount * _power_of_ten(-shift)
    whole, rest = divmod(amount, _power_of_ten(shift))
    if rest:
        raise GatewayProtocolError(f"the gateway reported {amount} {code}, a fraction of a unit")
    return whole


def _power_of_ten(exponent: int) -> int:
    return int(10**exponent)  # exponent >= 0 here; typeshed types int ** int as Any
