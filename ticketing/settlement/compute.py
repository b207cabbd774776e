"""A settled day's figures from its inputs: one pure function, `settle_day`.

`DayInputs` is everything a day's settlement reads (the day's read model aggregated in SQL,
the reconcile stage's figures, the ledger's balances), as typed values; `settle_day` builds the
revenue pools (docs/SETTLEMENT.md §2, §10), apportions them, writes the statements and checks
the controls. No database, gateway or clock: the service layer gathers the inputs
(`ticketing.services.settlement_inputs`), and the tests hand it plain values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from ticketing.settlement.apportion import (
    PassSale,
    PoolKind,
    RevenuePool,
    Ride,
    apportion,
    day_pools,
    pass_fallback_weights,
    pass_pools,
    split,
)
from ticketing.settlement.controls import SettledDay, control_totals
from ticketing.settlement.reconcile import Category, OpenException
from ticketing.settlement.shared_codes import SharedCode
from ticketing.settlement.statements import build_statements
from ticketing.settlement.states import ExceptionKind
from ticketing.settlement.summary import ReconciliationFigures


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorRides:
    """An operator's rides (or parking sessions) of the day and their undiscounted value."""

    rides: int
    value: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UncollectedDay:
    """A settled account-day whose receivable part has not been collected (debt recovery)."""

    account_id: str
    total: int  # the day's fares
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UncollectedParking:
    """Parking fees (or debts) of the day on an account's receivable whose parking charge has
    not been collected: not apportioned, not counted as collected, until they are."""

    account_id: str
    operator_id: str
    amount: int
    currency: str
    by_hour: Mapping[int, int] = field(default_factory=dict)  # local hour of the exit -> fees


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveredParking:
    """Parking fees of an earlier day held back as uncollected, whose parking charge has been
    collected since: released to the lot's operator by this run, naming that day."""

    account_id: str
    operator_id: str
    record_day: date
    amount: int
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnpricedLeg:
    """A settled leg no fare product priced (issue 13), pass rides excepted."""

    account_id: str
    leg_index: int
    route_id: str
    operator_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjustment:
    """A settled account-day's later version, settled by a later run: `amount` is the new
    total less the settled one (may be negative); `weights` the new version's undiscounted
    value per operator."""

    original_day: date
    account_id: str
    previous_version: int
    version: int
    amount: int
    currency: str
    weights: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveredDay:
    """An uncollected account-day of an earlier run, collected since: apportioned by this run
    with the weights of the version its day settled at."""

    account_id: str
    record_day: date
    amount: int
    currency: str
    weights: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class DayInputs:
    """Everything `settle_day` needs of one service day (see the module docstring)."""

    day: date
    currency: str
    taps: int
    account_days: int
    fares_priced: int  # the settled versions' totals
    uncollected: Sequence[UncollectedDay]
    single_fares: Mapping[str, int]  # operator -> charges of legs that are pools of their own
    pooled_rides: Mapping[str, Sequence[Ride]]  # account -> its legs, when they share pools
    rides: Mapping[str, OperatorRides]  # every settled leg, pass rides too
    pass_rides: Mapping[str, Mapping[str, int]]  # product -> operator -> undiscounted value
    pass_sales: Sequence[PassSale]  # paid passes valid on the day
    parking: Mapping[str, OperatorRides]  # operator -> (sessions, fees)
    fares_by_hour: Mapping[int, int]
    parking_by_hour: Mapping[int, int]
    unpriced: Sequence[UnpricedLeg]
    charges: int  # daily card charges collected for the day
    adjustments: Sequence[Adjustment]
    recovered: Sequence[RecoveredDay]
    trial_balance: int
    suspense_posted: int  # the ledger's suspense movement by this run
    duplicates_handled: int  # duplicates the charge stage voided or refunded
    reconciliation: ReconciliationFigures
    open_exceptions: Sequence[OpenException]
    # A pass product nobody rode on the day (`apportion.pass_fallback_weights`): its holders'
    # rides per operator over the preceding weeks, the operators it covers, every operator.
    recent_pass_rides: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    pass_operators: Mapping[str, frozenset[str]] = field(default_factory=dict)
    all_operators: frozenset[str] = frozenset()
    # The charges control: per account, the day's fares its receivable pays, and what the
    # day's charge (its first attempt) asked for.
    receivable_fares: Mapping[str, int] = field(default_factory=dict)
    day_charges: Mapping[str, int] = field(default_factory=dict)
    parking_uncollected: Sequence[UncollectedParking] = ()
    parking_recovered: Sequence[RecoveredParking] = ()
    shared_codes: Sequence[SharedCode] = ()  # codes accepted at two gates of one station


def settle_day(inputs: DayInputs) -> SettledDay:
    """The settled figures of `inputs.day` (see the module docstring)."""
    day, currency = inputs.day, inputs.currency
    rides = dict(inputs.rides)
    pools: list[RevenuePool] = [
        RevenuePool(id=f"single:{op}", kind=PoolKind.SINGLE, amount=amount, weights={op: 1})
        for op, amount in sorted(inputs.single_fares.items())
        if amount
    ]
    for account, account_rides in sorted(inputs.pooled_rides.items()):
        pools.extend(day_pools(f"{account}:{day}", account_rides))
    fallback = {
        sale.product_id: pass_fallback_weights(
            inputs.recent_pass_rides.get(sale.product_id, {}),
            inputs.pass_operators.get(sale.product_id, frozenset()),
            inputs.all_operators or frozenset(rides),
        )
        for sale in inputs.pass_sales
    }
    pass_ridden = [
        Ride(operator_id=op, undiscounted=value, charged=0, pass_product_id=product)
        for product, by_op in sorted(inputs.pass_rides.items())
        for op, value in sorted(by_op.items())
    ]
    pools.extend(pass_pools(day, inputs.pass_sales, pass_ridden, fallback))
    # Parking fees: single fares of the lot's operator (pool of their own), one ride a session;
    # those on a receivable whose charge was not collected are held back, never apportioned.
    held: dict[str, int] = defaultdict(int)
    for unpaid in inputs.parking_uncollected:
        held[unpaid.operator_id] += unpaid.amount
    parking_collected = {
        op: max(p.value - held.get(op, 0), 0) for op, p in sorted(inputs.parking.items())
    }
    pools.extend(
        RevenuePool(id=f"parking:{op}", kind=PoolKind.SINGLE, amount=amount, weights={op: 1})
        for op, amount in parking_collected.items()
        if amount
    )
    for op, p in inputs.parking.items():
        known = rides.get(op, OperatorRides(rides=0, value=0))
        rides[op] = OperatorRides(rides=known.rides + p.rides, value=known.value + p.value)
    refunds: dict[str, int] = defaultdict(int)
    adjusted = 0
    for item in inputs.adjustments:
        if item.amount > 0:
            pools.append(
                RevenuePool(
                    id=f"adjustment:{item.account_id}:{item.original_day}:v{item.version}",
                    kind=PoolKind.ADJUSTMENT,
                    amount=item.amount,
                    weights=item.weights,
                )
            )
        elif item.amount < 0 and item.weights:
            for op, share in split(-item.amount, item.weights).items():
                refunds[op] += share
        adjusted += item.amount
    # An uncollected day of an earlier run, collected since: an adjustment naming that day,
    # split by that day's weights (its settled version's undiscounted value per operator).
    recovered_total = 0
    for recovered in inputs.recovered:
        if recovered.currency != currency or not recovered.weights or not recovered.amount:
            continue
        pools.append(
            RevenuePool(
                id=f"collected:{recovered.account_id}:{recovered.record_day}",
                kind=PoolKind.ADJUSTMENT,
                amount=recovered.amount,
                weights=recovered.weights,
            )
        )
        recovered_total += recovered.amount
    # Parking held back by an earlier run, collected since: the lot operator's, named for the
    # day it was parked.
    for parked in inputs.parking_recovered:
        if parked.currency != currency or not parked.amount:
            continue
        pools.append(
            RevenuePool(
                id=f"parking-collected:{parked.account_id}:{parked.record_day}:{parked.operator_id}",
                kind=PoolKind.ADJUSTMENT,
                amount=parked.amount,
                weights={parked.operator_id: 1},
            )
        )
        recovered_total += parked.amount
    shares = apportion(pools)
    uncollected_total = sum(u.total for u in inputs.uncollected)
    passes_recognised = sum(p.amount for p in pools if p.kind is PoolKind.PASS)
    recon = inputs.reconciliation
    fees = recon.fees or 0
    statements = build_statements(
        day=day,
        currency=currency,
        apportionment=shares,
        gross={op: r.value for op, r in rides.items()},
        rides={op: r.rides for op, r in rides.items()},
        refunds=dict(refunds),
        fees=fees if shares.by_operator or rides else 0,
    )
    collected = (
        inputs.fares_priced
        - uncollected_total
        + passes_recognised
        + sum(parking_collected.values())
        + adjusted
        + recovered_total
        + recon.cash_difference
    )
    controls = control_totals(
        statements,
        currency=currency,
        collected=collected,
        fees=fees,
        suspense=inputs.suspense_posted,
        suspense_exceptions=recon.suspense_moved,
        trial_balance=inputs.trial_balance,
        charges_mismatched=tuple(
            sorted(
                account
                for account, amount in inputs.day_charges.items()
                if inputs.receivable_fares.get(account, 0) != amount
            )
        ),
    )
    exceptions_today: dict[str, int] = dict(recon.counts)
    if inputs.duplicates_handled:
        duplicate = str(Category.DUPLICATE)
        exceptions_today[duplicate] = exceptions_today.get(duplicate, 0) + inputs.duplicates_handled
    day_exceptions = {
        str(kind): (n, amount)
        for kind, n, amount in (
            (ExceptionKind.UNPRICED_LEG, len(inputs.unpriced), 0),
            (ExceptionKind.UNCOLLECTED, len(inputs.uncollected), uncollected_total),
            (
                ExceptionKind.UNCOLLECTED_PARKING,
                len({u.account_id for u in inputs.parking_uncollected}),
                sum(u.amount for u in inputs.parking_uncollected),
            ),
            (ExceptionKind.SHARED_CODE, len(inputs.shared_codes), 0),
        )
        if n
    }
    exceptions_today.update({kind: n for kind, (n, _) in day_exceptions.items()})
    # What the day collected by hour: fares of collected account-days, parking fees less
    # those held back (as the money control counts them).
    by_hour = dict(inputs.fares_by_hour)
    for hour, fee in inputs.parking_by_hour.items():
        by_hour[hour] = by_hour.get(hour, 0) + fee
    for unpaid in inputs.parking_uncollected:
        for hour, fee in unpaid.by_hour.items():
            by_hour[hour] = by_hour.get(hour, 0) - fee
    by_hour = {hour: amount for hour, amount in sorted(by_hour.items()) if amount}
    return SettledDay(
        day=day,
        currency=currency,
        taps=inputs.taps,
        account_days=inputs.account_days,
        charges=inputs.charges,
        adjustments=len(inputs.adjustments) + len(inputs.recovered) + len(inputs.parking_recovered),
        apportionment=shares,
        statements=statements,
        controls=controls,
        exceptions_today=dict(sorted(exceptions_today.items())),
        open_exceptions=tuple(inputs.open_exceptions),
        revenue_by_hour=by_hour,
        day_exceptions=day_exceptions,
        pools=tuple(pools),
    )
