"""Per-operator statements of a settled day, from apportioned figures.

For each operator (docs/SETTLEMENT.md §Statements):

- gross: the undiscounted value of the rides on its routes (full fares, pass rides included);
- revenue: its apportioned share of the money collected for the day (`apportion`);
- discounts: gross - revenue, what caps, transfers, passes and concessions took off (negative
  when a pass earned more on a day than its holders' rides were worth);
- refunds: fare refunds charged back to it, split like the refunded money was;
- fees: its share of the gateway's fees, split in proportion to revenue less refunds;
- net: revenue - refunds - fees, what the clearing house owes it (negative: it owes us).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from ticketing.postings import UNKNOWN_OPERATOR
from ticketing.settlement.apportion import Apportionment, split
from ticketing.settlement.errors import InvalidSettlementInput


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    day: date
    operator_id: str
    currency: str
    rides: int
    gross: int
    discounts: int
    revenue: int
    refunds: int
    fees: int
    net: int


def build_statements(
    *,
    day: date,
    currency: str,
    apportionment: Apportionment,
    gross: Mapping[str, int],
    rides: Mapping[str, int],
    refunds: Mapping[str, int],
    fees: int,
) -> tuple[Statement, ...]:
    """One statement per operator that rode, earned, or refunded anything, by operator id.

    Rides no operator could be credited with (`UNKNOWN_OPERATOR`: a route the feed does not
    know) are the day's unpriced-leg exceptions, not an operator: they get a statement only if
    money sits on them, so the statements still add up to what was collected.

    `fees` is the day's total gateway fee; with no operator to carry it, it is refused (a
    day that collected nothing has no fees to pass on).
    """
    operators = sorted(set(apportionment.by_operator) | set(gross) | set(rides) | set(refunds))
    for figures, what in ((gross, "gross"), (rides, "rides"), (refunds, "refunds")):
        for operator_id, value in figures.items():
            if type(value) is not int or value < 0:
                raise InvalidSettlementInput(f"{what} of {operator_id!r} is {value!r}")
    if not any(
        figures.get(UNKNOWN_OPERATOR, 0) for figures in (apportionment.by_operator, gross, refunds)
    ):
        operators = [op for op in operators if op != UNKNOWN_OPERATOR]
    revenue = {op: apportionment.by_operator.get(op, 0) for op in operators}
    if fees and not operators:
        raise InvalidSettlementInput(f"gateway fees of {fees} on a day with no operator")
    weights = {op: max(revenue[op] - refunds.get(op, 0), 0) for op in operators}
    fee_shares = split(fees, weights) if operators else {}
    return tuple(
        Statement(
            day=day,
            operator_id=op,
            currency=currency,
            rides=rides.get(op, 0),
            gross=gross.get(op, 0),
            discounts=gross.get(op, 0) - revenue[op],
            revenue=revenue[op],
            refunds=refunds.get(op, 0),
            fees=fee_shares.get(op, 0),
            net=revenue[op] - refunds.get(op, 0) - fee_shares.get(op, 0),
        )
        for op in operators
    )
