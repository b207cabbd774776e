"""Splitting collected fare revenue among operators, to the last minor unit.

Money is split in *pools*: an amount collected and the undiscounted value each operator's legs
contributed to it. The rules (docs/SETTLEMENT.md §Apportionment):

- a single fare (a leg that is neither capped nor part of a transfer) is a pool of one leg: its
  charge goes to its route's operator;
- a transfer chain (a leg and the legs continuing it) is one pool: the chain's charge is split
  in proportion to the undiscounted value of its legs;
- a cap is one pool over the legs its fare product covers, not the whole account-day: the
  legs of the networks its capped legs ride (a Metro 2A day cap among the day's Metro 2A legs),
  everything they were charged split in proportion to their undiscounted value; the day's other
  legs (a bus ride the same day) are single fares and transfer chains as on an uncapped day, so
  no operator's revenue falls because of a cap on another network;
- pass revenue is recognised straight-line over the pass's service days and each day's
  recognised amount of a pass product is split by the undiscounted value of the rides its
  holders took that day (the ORCA rule), or, on a day no holder rode, by the product's
  fallback weights (`pass_fallback_weights`).

`split` uses largest-remainder rounding: every operator first gets the floor of its exact share,
the minor units left over go one each to the largest fractional remainders, ties to the
operator id that sorts first. Shares therefore sum exactly to the pool, none is negative, and
the result does not depend on the order of the inputs.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from ticketing.settlement.errors import InvalidSettlementInput


class PoolKind(enum.StrEnum):
    SINGLE = "single"
    TRANSFER = "transfer"
    CAP = "cap"
    PASS = "pass"
    ADJUSTMENT = "adjustment"  # a settled account-day's later change, settled by a later run


@dataclass(frozen=True, slots=True, kw_only=True)
class Ride:
    """One priced leg of an account-day as apportionment sees it (from a `PricedLeg`).

    `continues_previous` is True for a leg a transfer rule discounted or a join rule merged
    into the leg before it (`transfer_product_id` set or `joined`): both belong to one chain.
    """

    operator_id: str
    undiscounted: int
    charged: int
    continues_previous: bool = False
    capped: bool = False
    pass_product_id: str | None = None
    network_id: str | None = None  # the cap's scope: a cap pools the legs of its networks


@dataclass(frozen=True, slots=True, kw_only=True)
class RevenuePool:
    """`amount` collected, shared by operators in proportion to `weights` (undiscounted value)."""

    id: str
    kind: PoolKind
    amount: int
    weights: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class PassSale:
    """A pass sold for `price`, valid for the service days [first_day, end_day)."""

    id: str
    product_id: str
    price: int
    first_day: date
    end_day: date


@dataclass(frozen=True, slots=True, kw_only=True)
class Apportionment:
    """Each operator's share of the pools, in total and by kind of pool."""

    total: int
    by_operator: Mapping[str, int]
    by_kind: Mapping[PoolKind, Mapping[str, int]] = field(default_factory=dict)


def split(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`amount` shared in proportion to `weights` with largest-remainder rounding.

    Zero weights get nothing unless every weight is zero, when the amount is shared equally
    (a pool of free legs that still collected money: nothing better to go by).
    """
    _check_amount(amount, "amount to split")
    if not weights:
        if amount:
            raise InvalidSettlementInput(f"{amount} to split among no operator")
        return {}
    for operator_id, weight in weights.items():
        _check_amount(weight, f"weight of {operator_id!r}")
    operators = sorted(weights)
    total_weight = sum(weights.values())
    if total_weight == 0:
        weights, total_weight = dict.fromkeys(operators, 1), len(operators)
    shares = {op: amount * weights[op] // total_weight for op in operators}
    left = amount - sum(shares.values())
    by_remainder = sorted(operators, key=lambda op: (-(amount * weights[op] % total_weight), op))
    for op in by_remainder[:left]:
        shares[op] += 1
    return shares


def day_pools(account_day_id: str, rides: Sequence[Ride]) -> list[RevenuePool]:
    """The pools of one account-day's charge, `rides` in departure order.

    Pass-covered rides are left out (the pass pays for them, see `pass_pools`); pools that
    collected nothing are left out too.
    """
    paid = [ride for ride in rides if ride.pass_product_id is None]
    for ride in paid:
        _check_amount(ride.charged, "charged")
        _check_amount(ride.undiscounted, "undiscounted")
    capped_networks = {ride.network_id for ride in paid if ride.capped}
    pools = []
    if capped_networks:
        covered = [ride for ride in paid if ride.network_id in capped_networks]
        pools.append(_pool(f"{account_day_id}:cap", PoolKind.CAP, covered))
    chains: list[list[Ride]] = []
    follows_chain = False  # the leg before this one is in `chains` (not in the cap's pool)
    for ride in paid:
        if ride.network_id in capped_networks:
            follows_chain = False
            continue
        if ride.continues_previous and chains and follows_chain:
            chains[-1].append(ride)
        else:
            chains.append([ride])
        follows_chain = True
    pools.extend(
        _pool(
            f"{account_day_id}:{index}",
            PoolKind.TRANSFER if len(chain) > 1 else PoolKind.SINGLE,
            chain,
        )
        for index, chain in enumerate(chains)
    )
    return [pool for pool in pools if pool.amount]


def recognised_pass_revenue(sale: PassSale, day: date) -> int:
    """The part of the pass's price earned on service day `day`, straight-line by day.

    Each day earns the difference of the cumulative floors, so the days of the validity sum
    exactly to the price and no day differs from another by more than one minor unit.
    """
    _check_amount(sale.price, f"price of pass {sale.id!r}")
    days = (sale.end_day - sale.first_day).days
    if days <= 0:
        raise InvalidSettlementInput(f"pass {sale.id!r} is valid for no service day")
    if not sale.first_day <= day < sale.end_day:
        return 0
    elapsed = (day - sale.first_day).days
    return sale.price * (elapsed + 1) // days - sale.price * elapsed // days


PASS_USE_WEEKS = 4  # how far back a quiet day looks for the pass's use


def pass_fallback_weights(
    recent: Mapping[str, int], covered: Iterable[str], everyone: Iterable[str]
) -> dict[str, int]:
    """The weights of a pass product's revenue on a day none of its holders rode, in order:

    1. the undiscounted value of its holders' rides per operator over the preceding
       `PASS_USE_WEEKS` weeks (`recent`): the pass is used as it was lately;
    2. else equal shares among the operators of the routes the product covers (`covered`:
       its networks' and routes' agencies);
    3. else equal shares among every operator of the feed (`everyone`).
    """
    weights = {op: value for op, value in recent.items() if value > 0}
    if weights:
        return weights
    return dict.fromkeys(sorted(covered), 1) or dict.fromkeys(sorted(everyone), 1)


def pass_pools(
    day: date,
    sales: Iterable[PassSale],
    rides: Iterable[Ride],
    fallback_weights: Mapping[str, Mapping[str, int]],
) -> list[RevenuePool]:
    """One pool per pass product with revenue recognised on `day`.

    Weighted by the undiscounted value of the day's `rides` covered by that product, or by
    `fallback_weights[product]` when no holder rode (`pass_fallback_weights`); a product with
    neither (a feed without operators) is refused, since its revenue would have no operator.
    """
    recognised: dict[str, int] = defaultdict(int)
    for sale in sales:
        recognised[sale.product_id] += recognised_pass_revenue(sale, day)
    ridden: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for ride in rides:
        if ride.pass_product_id is not None:
            _check_amount(ride.undiscounted, "undiscounted")
            ridden[ride.pass_product_id][ride.operator_id] += ride.undiscounted
    pools = []
    for product in sorted(recognised):
        amount = recognised[product]
        if not amount:
            continue
        weights = dict(ridden.get(product, {}))
        if not sum(weights.values()):
            weights = dict(fallback_weights.get(product, {}))
        if not weights:
            raise InvalidSettlementInput(
                f"pass {product!r} earned {amount} on {day} but nobody rode and it has no "
                "fallback operators"
            )
        pools.append(
            RevenuePool(
                id=f"pass:{product}:{day}", kind=PoolKind.PASS, amount=amount, weights=weights
            )
        )
    return pools


def apportion(pools: Iterable[RevenuePool]) -> Apportionment:
    """Every pool split (`split`) and summed per operator and per kind of pool."""
    by_kind: dict[PoolKind, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pool in pools:
        for operator_id, share in split(pool.amount, pool.weights).items():
            by_kind[pool.kind][operator_id] += share
    by_operator: dict[str, int] = defaultdict(int)
    for shares in by_kind.values():
        for operator_id, share in shares.items():
            by_operator[operator_id] += share
    return Apportionment(
        total=sum(by_operator.values()),
        by_operator=dict(sorted(by_operator.items())),
        by_kind={kind: dict(sorted(by_kind[kind].items())) for kind in PoolKind if kind in by_kind},
    )


def _pool(pool_id: str, kind: PoolKind, rides: Sequence[Ride]) -> RevenuePool:
    weights: dict[str, int] = defaultdict(int)
    for ride in rides:
        weights[ride.operator_id] += ride.undiscounted
    return RevenuePool(
        id=pool_id, kind=kind, amount=sum(ride.charged for ride in rides), weights=dict(weights)
    )


def _check_amount(value: int, what: str) -> None:
    if type(value) is not int or value < 0:
        raise InvalidSettlementInput(f"{what} must be a non-negative int, not {value!r}")
