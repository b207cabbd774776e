"""The settled day as one self-contained HTML page for finance.

No external request of any kind: styles are inline, and the charts (revenue by operator,
revenue by hour of the service day, open exceptions by kind) are inline SVG drawn by the
jinja2 template from geometry computed here. Hand-drawn SVG rather than a plotting library:
three bar charts do not justify ~140 MB of matplotlib and numpy (or a bundled JS engine for
Vega-Lite), and the page stays byte-for-byte reproducible for a given day.

The first screen answers what finance checks first: do the controls hold, how much came in,
who gets it, what is in suspense.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import jinja2

from ticketing.money import currency_exponent
from ticketing.settlement.controls import SettledDay
from ticketing.settlement.reconcile import EXCEPTION_CATEGORIES

# Service-day hours in the order they happen: 04:00 (the cut-off) to 03:59 the next morning.
SERVICE_HOURS = (*range(4, 24), *range(4))
AGE_BUCKETS = ((0, 1, "0-1 d"), (2, 7, "2-7 d"), (8, 30, "8-30 d"), (31, None, "over 30 d"))

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("ticketing.settlement", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
DAY_EXCEPTION_KINDS = ("unpriced_leg", "uncollected")  # SettledDay.day_exceptions' kinds
SHARED_CODE = "shared_code"  # ExceptionKind.SHARED_CODE, charted when the day has one


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart: its label, the value shown, and its length as a fraction of the
    chart's largest value (0..1)."""

    label: str
    value: str
    fraction: float
    alert: bool = False


def money(amount: int, currency: str) -> str:
    """`amount` minor units written in major units with thousands separators: 1,234,500."""
    exponent = currency_exponent(currency)
    return f"{Decimal(amount).scaleb(-exponent):,.{exponent}f}"


def bars(items: Iterable[tuple[str, int]], fmt: Callable[[int], str]) -> list[Bar]:
    """Bars scaled to the largest absolute value (a chart of zeros draws no bar)."""
    pairs = list(items)
    top = max((abs(value) for _, value in pairs), default=0)
    return [Bar(label, fmt(value), abs(value) / top if top else 0.0) for label, value in pairs]


def render_html(
    settled: SettledDay,
    *,
    digest: str | None = None,
    operator_names: Mapping[str, str] | None = None,
) -> str:
    """The report page of a settled day (`digest` defaults to the day's own). Operators are
    shown by their names in `operator_names` (id -> name; an id without one as itself)."""
    currency = settled.currency
    controls = settled.controls
    names = operator_names or {}

    def fmt(amount: int) -> str:
        return money(amount, currency)

    def name(operator_id: str) -> str:
        return names.get(operator_id, operator_id)

    by_operator = sorted(
        ((name(op), amount) for op, amount in settled.apportionment.by_operator.items()),
        key=lambda kv: (-kv[1], kv[0]),
    )
    by_hour = [(f"{hour:02d}", settled.revenue_by_hour.get(hour, 0)) for hour in SERVICE_HOURS]
    open_by_kind: dict[str, list[int]] = {str(c): [0, 0] for c in EXCEPTION_CATEGORIES}
    for exception in settled.open_exceptions:
        counts = open_by_kind[str(exception.line.category)]
        counts[0] += 1
        counts[1] += exception.line.amount
    # The run's unpriced legs and uncollected days beside the reconciliation's (0 when none).
    for kind in DAY_EXCEPTION_KINDS:
        open_by_kind[kind] = list(settled.day_exceptions.get(kind, (0, 0)))
    # Shared codes carry no amount: a bar only on a day that has them.
    if SHARED_CODE in settled.day_exceptions:
        open_by_kind[SHARED_CODE] = list(settled.day_exceptions[SHARED_CODE])
    # Bars by amount, the figure finance weighs; the count is in the label.
    top = max(amount for _, amount in open_by_kind.values())
    exception_bars = [
        Bar(kind.replace("_", " "), f"{n} · {fmt(amount)}", amount / top if top else 0.0, n > 0)
        for kind, (n, amount) in open_by_kind.items()
    ]
    totals = {
        field: sum(getattr(s, field) for s in settled.statements)
        for field in ("rides", "gross", "discounts", "revenue", "refunds", "fees", "net")
    }
    template = _ENVIRONMENT.get_template("report.html.j2")
    return template.render(
        s=settled,
        c=controls,
        fmt=fmt,
        name=name,
        digest=digest or settled.digest(),
        operator_bars=bars(by_operator, fmt),
        hour_bars=bars(by_hour, fmt),
        hour_peak=max((v for _, v in by_hour), default=0),
        exception_bars=exception_bars,
        open_count=len(settled.open_exceptions),
        open_suspense=sum(e.line.suspense for e in settled.open_exceptions),
        today_count=sum(settled.exceptions_today.values()),
        ages=age_table(settled),
        totals=totals,
    )


def age_table(settled: SettledDay) -> list[tuple[str, int, int]]:
    """Open exceptions per age bucket: (bucket, count, amount)."""
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for exception in settled.open_exceptions:
        age = exception.line.age(settled.day)
        label = _bucket(age)
        rows[label][0] += 1
        rows[label][1] += exception.line.amount
    return [(label, rows[label][0], rows[label][1]) for _, _, label in AGE_BUCKETS if label in rows]


def _bucket(age: int) -> str:
    for low, high, label in AGE_BUCKETS:
        if age >= low and (high is None or age <= high):
            return label
    return AGE_BUCKETS[0][2]  # a record dated after the settled day: the youngest bucket
