"""Money as an integer count of minor units with its ISO 4217 currency; never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import iso4217

from ticketing.errors import CurrencyError


@cache
def currency_exponent(currency: str) -> int:
    """The ISO 4217 minor-unit exponent of `currency` (VND 0, USD 2, BHD 3).

    The one table of minor units is the ISO 4217 list as the `iso4217` package ships it; the
    Stripe adapter reads the same table (gateways/stripe_amounts.py). Codes are upper case,
    as ISO writes them; funds and metals without a minor unit (XAU, XXX) are not money here.
    """
    try:
        exponent = iso4217.Currency(currency).exponent
    except ValueError:
        raise CurrencyError(f"unknown currency {currency!r}") from None
    if exponent is None:
        raise CurrencyError(f"{currency} has no minor unit in ISO 4217; not a currency we price")
    return exponent


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
