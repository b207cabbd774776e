"""Bar charts drawn as SVG by the templates, from geometry computed here (no chart library, no
script): each bar carries its label and amount, and the page shows the same numbers as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ticketing.money import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    label: str
    amount: Money
    share: float  # of the largest amount, 0..1: the bar's length


@dataclass(frozen=True, slots=True, kw_only=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    largest: Money | None  # None: no bars, or every amount is zero


def bar_chart(title: str, items: Sequence[tuple[str, Money]]) -> BarChart:
    """Bars scaled to the largest amount; a negative amount (a net refund) draws as empty.

    Amounts must share one currency (`CurrencyError` otherwise): bars of two currencies
    cannot be compared.
    """
    largest = max((amount for _, amount in items), default=None)
    top = largest.amount if largest is not None and largest.amount > 0 else 0
    return BarChart(
        title=title,
        bars=tuple(
            Bar(label=label, amount=amount, share=max(amount.amount, 0) / top if top else 0.0)
            for label, amount in items
        ),
        largest=largest if top else None,
    )
