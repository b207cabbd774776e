"""Money keeps integer minor units and refuses floats, unknown currencies and mixed arithmetic."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing.money import CurrencyError, Money


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
