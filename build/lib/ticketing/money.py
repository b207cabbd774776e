"""Money as an integer count of minor units with its ISO 4217 currency; never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# ISO 4217 minor-unit exponents for the currencies we price or settle in.
# VND has no minor unit in practice (ISO lists 0), so 15,000 VND is Money(15000, "VND").
CURRENCY_EXPONENTS: dict[str, int] = {
    "VND": 0,
    "USD": 2,
    "CAD": 2,
    "EUR": 2,
    "GBP": 2,
    "JPY": 0,
    "KRW": 0,
}


class CurrencyError(ValueError):
    """An unknown currency, or arithmetic across two currencies."""


def currency_exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise CurrencyError(f"unknown currency {currency!r}") from None


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:
            raise TypeError(f"money amount must be an int of minor units, got {self.amount!r}")
        currency_exponent(self.currency)

    @classmethod
    def from_major(cls, value: str | Decimal, currency: str) -> Money:
        """Parse a decimal amount in major units ("4.25" USD -> 425), refusing sub-minor digits."""
        scaled = Decimal(value).scaleb(currency_exponent(currency))
        if scaled != scaled.to_integral_value():
            raise CurrencyError(f"{value} has more decimals than {currency} allows")
        return cls(int(scaled), currency)

    def to_major(self) -> Decimal:
        return Decimal(self.amount).scaleb(-currency_exponent(self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __str__(self) -> str:
        exponent = currency_exponent(self.currency)
        return f"{self.to_major():,.{exponent}f} {self.currency}"
