"""`settle_day`, the pure computation of a settled day, over plain typed inputs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ticketing.settlement.apportion import PassSale, PoolKind, Ride
from ticketing.settlement.compute import (
    Adjustment,
    DayInputs,
    OperatorRides,
    UncollectedDay,
    UnpricedLeg,
    settle_day,
)
from ticketing.settlement.summary import ReconciliationFigures

DAY = date(2026, 12, 5)


def inputs(**changes: object) -> DayInputs:
    """A day: a single metro fare, a capped day over metro and bus, a monthly pass in force,
    a parking fee, an unpriced leg and an uncollected account-day."""
    base = DayInputs(
        day=DAY,
        currency="VND",
        taps=12,
        account_days=3,
        fares_priced=15_000 + 30_000 + 9_000,
        uncollected=[UncollectedDay(account_id="dan", total=9_000, currency="VND")],
        single_fares={"metro": 15_000},
        pooled_rides={
            "ann": [
                Ride(operator_id="metro", undiscounted=15_000, charged=15_000, capped=True),
                Ride(operator_id="bus", undiscounted=7_000, charged=7_000, capped=True),
                Ride(operator_id="metro", undiscounted=15_000, charged=8_000, capped=True),
            ]
        },
        rides={
            "metro": OperatorRides(rides=3, value=45_000),
            "bus": OperatorRides(rides=2, value=14_000),
        },
        pass_rides={"bus_month_all": {"bus": 7_000}},
        pass_sales=[
            PassSale(
                id="p1",
                product_id="bus_month_all",
                price=280_000,
                first_day=date(2026, 12, 1),
                end_day=date(2026, 12, 31),
            )
        ],
        parking={"lots": OperatorRides(rides=1, value=20_000)},
        fares_by_hour={7: 15_000, 8: 30_000},
        parking_by_hour={18: 20_000},
        unpriced=[UnpricedLeg(account_id="ann", leg_index=3, route_id="x", operator_id="unknown")],
        charges=1,
        adjustments=[],
        recovered=[],
        trial_balance=0,
        suspense_posted=0,
        duplicates_handled=0,
        reconciliation=ReconciliationFigures(),
        open_exceptions=[],
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_day_settles_from_plain_values_and_its_controls_hold() -> None:
    settled = settle_day(inputs())
    assert settled.controls.ok, settled.controls
    by_kind = settled.apportionment.by_kind
    assert by_kind[PoolKind.SINGLE] == {"lots": 20_000, "metro": 15_000}
    assert sum(by_kind[PoolKind.CAP].values()) == 30_000
    assert by_kind[PoolKind.PASS] == {"bus": 9_333}  # 280,000 over 30 days: the 5th
    # the uncollected day is not apportioned; collected = payables (no fees, no suspense)
    assert settled.controls.collected == 15_000 + 30_000 + 9_333 + 20_000
    assert settled.exceptions_today == {"uncollected": 1, "unpriced_leg": 1}
    assert settled.revenue_by_hour == {7: 15_000, 8: 30_000, 18: 20_000}
    assert settle_day(inputs()).digest() == settled.digest()  # a pure function


def test_a_lower_adjustment_is_charged_back_to_the_operators_by_its_weights() -> None:
    later = Adjustment(
        original_day=date(2026, 12, 4), account_id="ann", previous_version=1, version=2,
        amount=-3_000, currency="VND", weights={"metro": 1, "bus": 1},
    )  # fmt: skip
    settled = settle_day(inputs(adjustments=[later]))
    refunds = {s.operator_id: s.refunds for s in settled.statements}
    assert refunds["metro"] + refunds["bus"] == 3_000
    assert settled.controls.ok


def test_a_rideless_day_with_a_pass_in_force_settles_by_the_documented_fallback() -> None:
    quiet = inputs(
        taps=0, account_days=0, fares_priced=0, uncollected=[], single_fares={},
        pooled_rides={}, rides={}, pass_rides={}, fares_by_hour={}, unpriced=[], charges=0,
    )  # fmt: skip
    # 1. nothing else known: every operator of the feed shares it equally
    settled = settle_day(replace(quiet, all_operators=frozenset({"bus", "metro"})))
    assert settled.controls.ok, settled.controls
    assert settled.apportionment.by_kind[PoolKind.PASS] == {"bus": 4_667, "metro": 4_666}
    # 2. the operators of the routes the product covers, equally
    covered = replace(quiet, pass_operators={"bus_month_all": frozenset({"bus", "bus2"})})
    assert settle_day(covered).apportionment.by_kind[PoolKind.PASS] == {
        "bus": 4_667, "bus2": 4_666,
    }  # fmt: skip
    # 3. its holders' use over the preceding weeks comes first
    used = replace(covered, recent_pass_rides={"bus_month_all": {"bus": 3, "bus2": 1}})
    settled = settle_day(used)
    assert settled.apportionment.by_kind[PoolKind.PASS] == {"bus": 7_000, "bus2": 2_333}
    assert settled.controls.ok
    assert settled.controls.collected == 9_333 + 20_000  # the pass's day and the parking fee
