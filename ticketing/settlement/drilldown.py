"""An operator's figure of a settled day, drilled down (issue 19): the revenue pools it had a
share of, the legs its routes carried, and the daily charges of the riders it carried.

Values only: the store reads the legs and charges (`stores.settlement_day`), the service
recomputes the day's pools (`services.settlement_drilldown`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ticketing.settlement.apportion import RevenuePool, split


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorLeg:
    account_id: str
    leg_index: int
    route_id: str
    from_stop: str
    to_stop: str | None
    started_at: datetime
    fare_product: str | None
    charged: int
    undiscounted: int
    capped: bool
    pass_product: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DayChargeRow:
    attempt_id: str
    account_id: str
    amount: int
    currency: str
    status: str
    gateway_ref: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolShare:
    """A pool the operator had a share of: the pool, its weight in it, and its share."""

    pool_id: str
    kind: str
    amount: int
    weight: int
    weights_total: int
    share: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorDrilldown:
    day: date
    operator: str
    currency: str
    apportioned: int  # the operator's share of every pool: its statement's revenue
    pools_count: int
    pools: tuple[PoolShare, ...]  # the largest shares first, at most the limit asked
    legs: tuple[OperatorLeg, ...]
    charges: tuple[DayChargeRow, ...]


def operator_shares(pools: tuple[RevenuePool, ...], operator: str) -> list[PoolShare]:
    """Every pool `operator` has a weight in, with its share (`split`, as apportioned), the
    largest share first."""
    shares = [
        PoolShare(
            pool_id=pool.id,
            kind=str(pool.kind),
            amount=pool.amount,
            weight=pool.weights[operator],
            weights_total=sum(pool.weights.values()),
            share=split(pool.amount, pool.weights).get(operator, 0),
        )
        for pool in pools
        if operator in pool.weights
    ]
    return sorted(shares, key=lambda s: (-s.share, s.pool_id))
