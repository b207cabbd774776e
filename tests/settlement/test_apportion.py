"""Apportionment rules: examples of each kind of pool, and the properties of the split."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.settlement.apportion import (
    PassSale,
    PoolKind,
    RevenuePool,
    Ride,
    apportion,
    day_pools,
    pass_pools,
    recognised_pass_revenue,
    split,
)
from ticketing.settlement.errors import InvalidSettlementInput

OPERATORS = ["bus-hanoi", "metro-2a", "metro-3", "parking-hk"]


def test_a_single_fare_goes_to_its_routes_operator() -> None:
    pools = day_pools(
        "acc-1:2025-03-14", [Ride(operator_id="metro-2a", undiscounted=12_000, charged=9_000)]
    )
    assert apportion(pools).by_operator == {"metro-2a": 9_000}
    assert [p.kind for p in pools] == [PoolKind.SINGLE]


def test_a_transfer_is_split_by_the_undiscounted_value_of_its_legs() -> None:
    rides = [
        Ride(operator_id="bus-hanoi", undiscounted=7_000, charged=7_000),
        Ride(operator_id="metro-2a", undiscounted=14_000, charged=5_000, continues_previous=True),
        Ride(operator_id="bus-hanoi", undiscounted=7_000, charged=7_000),  # a new journey
    ]
    pools = day_pools("d", rides)
    assert [(p.kind, p.amount) for p in pools] == [
        (PoolKind.TRANSFER, 12_000),
        (PoolKind.SINGLE, 7_000),
    ]
    # 12,000 in the ratio 7:14 -> 4,000 / 8,000; the single fare stays whole.
    assert apportion(pools).by_operator == {"bus-hanoi": 11_000, "metro-2a": 8_000}


def test_a_capped_day_is_one_pool_over_all_its_paid_legs() -> None:
    rides = [
        Ride(operator_id="metro-2a", undiscounted=15_000, charged=15_000),
        Ride(operator_id="bus-hanoi", undiscounted=7_000, charged=7_000),
        Ride(operator_id="metro-3", undiscounted=15_000, charged=8_000, capped=True),
        Ride(operator_id="bus-hanoi", undiscounted=7_000, charged=0, capped=True),
        Ride(operator_id="metro-3", undiscounted=9_000, charged=0, pass_product_id="month"),
    ]
    [pool] = day_pools("d", rides)
    assert (pool.kind, pool.amount) == (PoolKind.CAP, 30_000)
    assert pool.weights == {"metro-2a": 15_000, "bus-hanoi": 14_000, "metro-3": 15_000}
    shares = apportion([pool]).by_operator
    # Exact shares 10,227.27 (twice) and 9,545.45: the one dong the floors leave goes to the
    # largest remainder, bus-hanoi's .45.
    assert shares == {"bus-hanoi": 9_546, "metro-2a": 10_227, "metro-3": 10_227}


def test_largest_remainder_ties_go_to_the_first_operator_id() -> None:
    assert split(10, {"b": 1, "a": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert split(2, {"b": 1, "a": 1, "c": 1}) == {"a": 1, "b": 1, "c": 0}


def test_all_zero_weights_share_equally_and_zero_weights_get_nothing_otherwise() -> None:
    assert split(5, {"x": 0, "y": 0}) == {"x": 3, "y": 2}
    assert split(5, {"x": 0, "y": 3}) == {"x": 0, "y": 5}


@pytest.mark.parametrize(
    ("amount", "weights"),
    [(-1, {"a": 1}), (5, {"a": -1}), (5, {}), (1.5, {"a": 1})],
)
def test_bad_split_inputs_are_refused(amount: int, weights: dict[str, int]) -> None:
    with pytest.raises(InvalidSettlementInput):
        split(amount, weights)


def test_pass_revenue_is_recognised_by_day_and_sums_to_the_price() -> None:
    sale = PassSale(
        id="p1",
        product_id="month",
        price=200_000,
        first_day=date(2025, 3, 1),
        end_day=date(2025, 4, 1),
    )
    daily = [recognised_pass_revenue(sale, date(2025, 3, 1) + timedelta(days=n)) for n in range(31)]
    assert sum(daily) == 200_000
    assert max(daily) - min(daily) <= 1
    assert recognised_pass_revenue(sale, date(2025, 4, 1)) == 0
    assert recognised_pass_revenue(sale, date(2025, 2, 28)) == 0


def test_pass_revenue_follows_the_rides_its_holders_took_that_day() -> None:
    day = date(2025, 3, 14)
    sales = [
        PassSale(
            id=f"p{n}",
            product_id="day",
            price=30_000,
            first_day=day,
            end_day=day + timedelta(days=1),
        )
        for n in range(2)
    ]
    rides = [
        Ride(operator_id="metro-2a", undiscounted=15_000, charged=0, pass_product_id="day"),
        Ride(operator_id="bus-hanoi", undiscounted=7_000, charged=0, pass_product_id="day"),
        Ride(operator_id="bus-hanoi", undiscounted=8_000, charged=0, pass_product_id="day"),
        Ride(operator_id="metro-3", undiscounted=99_000, charged=99_000),  # not a pass ride
    ]
    [pool] = pass_pools(day, sales, rides, {})
    assert (pool.kind, pool.amount, pool.weights) == (
        PoolKind.PASS,
        60_000,
        {"metro-2a": 15_000, "bus-hanoi": 15_000},
    )
    assert apportion([pool]).by_operator == {"bus-hanoi": 30_000, "metro-2a": 30_000}


def test_a_pass_day_without_rides_uses_the_fallback_or_is_refused() -> None:
    day = date(2025, 3, 14)
    sale = PassSale(
        id="p", product_id="month", price=310, first_day=day, end_day=day + timedelta(days=31)
    )
    [pool] = pass_pools(day, [sale], [], {"month": {"metro-2a": 1, "bus-hanoi": 1}})
    assert pool.amount == 10
    with pytest.raises(InvalidSettlementInput, match="fallback"):
        pass_pools(day, [sale], [], {})


def test_a_pass_valid_for_no_day_is_refused() -> None:
    day = date(2025, 3, 14)
    with pytest.raises(InvalidSettlementInput):
        recognised_pass_revenue(
            PassSale(id="p", product_id="x", price=1, first_day=day, end_day=day), day
        )


weights = st.dictionaries(st.sampled_from(OPERATORS), st.integers(0, 10**7), min_size=1)


@settings(deadline=None)
@given(st.integers(0, 10**12), weights)
def test_split_sums_exactly_is_never_negative_and_stays_within_one_of_the_exact_share(
    amount: int, weights: dict[str, int]
) -> None:
    shares = split(amount, weights)
    assert sum(shares.values()) == amount
    assert all(share >= 0 for share in shares.values())
    total = sum(weights.values())
    if total:
        for op, share in shares.items():
            assert abs(share * total - amount * weights[op]) < total


rides = st.builds(
    Ride,
    operator_id=st.sampled_from(OPERATORS),
    undiscounted=st.integers(0, 50_000),
    charged=st.integers(0, 50_000),
    continues_previous=st.booleans(),
    capped=st.booleans(),
    pass_product_id=st.sampled_from([None, None, None, "day"]),
)


@settings(deadline=None)
@given(st.lists(st.lists(rides, max_size=8), max_size=6))
def test_apportioned_shares_sum_to_what_was_charged_and_ignore_input_order(
    days: list[list[Ride]],
) -> None:
    pools = [pool for n, day in enumerate(days) for pool in day_pools(f"acc-{n}", day)]
    collected = sum(ride.charged for day in days for ride in day if ride.pass_product_id is None)
    result = apportion(pools)
    assert result.total == sum(result.by_operator.values()) == collected
    assert all(share >= 0 for share in result.by_operator.values())
    shuffled = [
        RevenuePool(
            id=p.id, kind=p.kind, amount=p.amount, weights=dict(reversed(list(p.weights.items())))
        )
        for p in reversed(pools)
    ]
    assert apportion(shuffled) == result


def test_a_metro_2a_cap_leaves_the_bus_operators_revenue_unchanged() -> None:
    """The issue's day: the whole account-day went into one cap pool, so a Metro 2A day cap
    took 5,157 VND from the bus operator. The cap pools only the legs of its network."""
    rides = [
        Ride(operator_id="HMC", undiscounted=15_000, charged=15_000, network_id="m2a"),
        Ride(operator_id="TRANSERCO", undiscounted=7_000, charged=7_000, network_id="bus"),
        Ride(operator_id="HMC", undiscounted=15_000, charged=15_000, network_id="m2a"),
        Ride(operator_id="HMC", undiscounted=15_000, charged=0, capped=True, network_id="m2a"),
        Ride(operator_id="TRANSERCO", undiscounted=7_000, charged=7_000, network_id="bus"),
    ]
    pools = day_pools("d", rides)
    shares = apportion(pools).by_operator
    assert shares == {"HMC": 30_000, "TRANSERCO": 14_000}
    [cap] = [p for p in pools if p.kind is PoolKind.CAP]
    assert cap.weights == {"HMC": 45_000}


networks = st.sampled_from(["m2a", "m3", "bus"])
OPERATOR_OF = {"m2a": "HMC", "m3": "HMC3", "bus": "TRANSERCO"}


@st.composite
def capped_days(draw: st.DrawFn) -> list[Ride]:
    """A day of legs on three networks (one operator each), some networks capped: a capped
    leg is charged at most its undiscounted value, every other leg in full; any leg may
    continue the one before (a transfer chain)."""
    capped = draw(st.sets(networks))
    legs = []
    for network in draw(st.lists(networks, max_size=10)):
        value = draw(st.integers(0, 40_000))
        cut = network in capped and draw(st.booleans())
        legs.append(
            Ride(
                operator_id=OPERATOR_OF[network],
                undiscounted=value,
                charged=draw(st.integers(0, value)) if cut else value,
                capped=cut,
                continues_previous=draw(st.booleans()),
                network_id=network,
            )
        )
    return legs


@settings(deadline=None)
@given(capped_days())
def test_no_operators_revenue_falls_because_of_a_cap_on_another_network(
    rides: list[Ride],
) -> None:
    shares = apportion(day_pools("d", rides)).by_operator
    capped_networks = {r.network_id for r in rides if r.capped}
    assert sum(shares.values()) == sum(r.charged for r in rides)
    for network, operator in OPERATOR_OF.items():
        if network in capped_networks:
            continue
        legs = [r for r in rides if r.network_id == network]
        # no cap on its network: it keeps every dong its legs were charged (a transfer chain
        # never crosses into a cap's pool)
        assert shares.get(operator, 0) == sum(r.charged for r in legs)
