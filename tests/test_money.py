"""Money keeps integer minor units and refuses floats, unknown currencies and mixed arithmetic."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing.errors import CurrencyError
from ticketing.money import Money


def test_vnd_has_no_minor_unit() -> None:
    assert Money.from_major("15000", "VND") == Money(15000, "VND")
    assert str(Money(15000, "VND")) == "15,000 VND"


def test_usd_major_to_minor() -> None:
    assert Money.from_major("4.25", "USD") == Money(425, "USD")
    assert Money(425, "USD").to_major() == Decimal("4.25")


def test_refuses_floats_and_sub_minor_digits() -> None:
    with pytest.raises(TypeError):
        Money(4.25, "USD")  # type: ignore[arg-type]
    with pytest.raises(CurrencyError):
        Money.from_major("4.255", "USD")
    with pytest.raises(CurrencyError):
        Money.from_major("1.5", "VND")


def test_refuses_mixed_currencies_and_unknown_ones() -> None:
    with pytest.raises(CurrencyError):
        Money(1, "VND") + Money(1, "USD")
    with pytest.raises(CurrencyError):
        Money(1, "XXX")


@given(st.integers(-(10**15), 10**15), st.integers(-(10**15), 10**15))
def test_addition_is_integer_arithmetic(a: int, b: int) -> None:
    total = Money(a, "VND") + Money(b, "VND")
    assert total.amount == a + b
    assert (total - Money(b, "VND")).amount == a


def test_minor_units_come_from_the_iso_4217_table() -> None:
    # CAD and SGD: once known to only one of Money and the Stripe adapter, now to both.
    assert Money.from_major("4.25", "CAD") == Money(425, "CAD")
    assert Money.from_major("4.25", "SGD") == Money(425, "SGD")
    assert Money.from_major("1.234", "BHD") == Money(1234, "BHD")
    assert str(Money(500, "ISK")) == "500 ISK"


def test_refuses_codes_iso_does_not_price() -> None:
    for code in ("XAU", "vnd", "VNDX", ""):
        with pytest.raises(CurrencyError):
            Money(1, code)
