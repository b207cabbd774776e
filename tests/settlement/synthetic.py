"""A synthetic settled day built only with the settlement rules, from a seeded random source.

Money is counted twice on purpose: the rules see the ledger side (fares priced and collected,
refunds recorded) while `collected` is summed from the money side (wallet debits, what the
gateway lists, pass revenue recognised), so the controls compare two independent sums.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from ticketing.settlement.apportion import (
    PassSale,
    Ride,
    apportion,
    day_pools,
    pass_pools,
    recognised_pass_revenue,
    split,
)
from ticketing.settlement.controls import SettledDay, control_totals
from ticketing.settlement.reconcile import (
    GatewayPaymentRecord,
    GatewayRefundRecord,
    LedgerPayment,
    LedgerRefund,
    OpenException,
    reconcile,
    roll_suspense,
)
from ticketing.settlement.statements import build_statements

OPERATORS = {"metro-2a": 15_000, "metro-3": 14_000, "bus-transerco": 7_000, "bus-bxh": 8_000}
PASS_PRODUCT = "month-all-lines"


@dataclass(frozen=True, slots=True)
class Knobs:
    accounts: int = 40
    decline_rate: float = 0.05
    card_share: float = 0.6
    pass_holders: int = 4
    exceptions: bool = True
    fee_per_charge: int = 0


def synthetic_day(
    rng: random.Random,
    day: date = date(2025, 3, 14),
    knobs: Knobs = Knobs(),
    previous_open: tuple[OpenException, ...] = (),
) -> SettledDay:
    operators = sorted(OPERATORS)
    pools, all_rides = [], []
    gross: dict[str, int] = defaultdict(int)
    rides_count: dict[str, int] = defaultdict(int)
    by_hour: dict[int, int] = defaultdict(int)
    ledger_payments, gateway_payments = [], []
    wallet_collected = taps = charges = account_days = 0
    weights_of_day: dict[str, dict[str, int]] = {}
    for n in range(knobs.accounts):
        rides = _rides(rng, operators, has_pass=n < knobs.pass_holders)
        if not rides:
            continue
        account_days += 1
        taps += 2 * len(rides)
        for ride in rides:
            gross[ride.operator_id] += ride.undiscounted
            rides_count[ride.operator_id] += 1
            by_hour[rng.choice([6, 7, 7, 8, 8, 8, 9, 12, 16, 17, 17, 18, 18, 19, 22, 0])] += (
                ride.charged
            )
        all_rides.extend(rides)
        key = f"charge:acc-{n}:{day}"
        day_total = sum(r.charged for r in rides if r.pass_product_id is None)
        if day_total == 0:
            continue
        if rng.random() < knobs.card_share:
            charges += 1
            if rng.random() < knobs.decline_rate:
                continue  # declined: nothing collected, the debt is recovered later
            ledger_payments.append(
                LedgerPayment(
                    attempt_id=key,
                    charge_key=key,
                    amount=day_total,
                    currency="VND",
                    gateway_payment_id=f"pi_{n}",
                    day=day,
                )
            )
            gateway_payments.append(
                GatewayPaymentRecord(
                    id=f"pi_{n}",
                    idempotency_key=key,
                    charge_key=key,
                    amount=day_total,
                    currency="VND",
                    collected=True,
                    day=day,
                )
            )
        else:
            wallet_collected += day_total
        day_pool = day_pools(key, rides)
        pools.extend(day_pool)
        weights_of_day[key] = {op: sum(p.weights.get(op, 0) for p in day_pool) for op in operators}

    sales = [
        PassSale(
            id=f"pass-{n}",
            product_id=PASS_PRODUCT,
            price=300_000,
            first_day=day - timedelta(days=n * 3),
            end_day=day - timedelta(days=n * 3) + timedelta(days=30),
        )
        for n in range(knobs.pass_holders)
    ]
    pools.extend(pass_pools(day, sales, all_rides, {PASS_PRODUCT: dict.fromkeys(operators, 1)}))
    recognised = sum(recognised_pass_revenue(sale, day) for sale in sales)

    refunds_by_operator: dict[str, int] = defaultdict(int)
    ledger_refunds, gateway_refunds = [], []
    for payment in ledger_payments[:: max(1, len(ledger_payments) // 3 or 1)][:3]:
        amount = rng.randint(1, payment.amount)
        ledger_refunds.append(
            LedgerRefund(
                refund_id=f"refund-{payment.attempt_id}",
                attempt_id=payment.attempt_id,
                amount=amount,
                currency="VND",
                gateway_refund_id=f"re_{payment.attempt_id}",
                day=day,
            )
        )
        gateway_refunds.append(
            GatewayRefundRecord(
                id=f"re_{payment.attempt_id}",
                payment_id=payment.gateway_payment_id,
                idempotency_key=None,
                amount=amount,
                currency="VND",
                paid=True,
                day=day,
            )
        )
        for op, share in split(amount, weights_of_day[payment.attempt_id]).items():
            refunds_by_operator[op] += share

    if knobs.exceptions and ledger_payments:
        first = ledger_payments[0]
        gateway_payments.append(
            GatewayPaymentRecord(
                id="pi_dup",
                idempotency_key=first.attempt_id,
                charge_key=first.charge_key,
                amount=first.amount,
                currency="VND",
                collected=True,
                day=day,
            )
        )
        gateway_payments.append(
            GatewayPaymentRecord(
                id="pi_stray",
                idempotency_key=None,
                charge_key=None,
                amount=52_000,
                currency="VND",
                collected=True,
                day=day - timedelta(days=3),
            )
        )
        gateway_refunds.append(
            GatewayRefundRecord(
                id="re_dashboard",
                payment_id="pi_x",
                idempotency_key=None,
                amount=9_000,
                currency="VND",
                paid=True,
                day=day,
            )
        )
        if len(ledger_payments) > 1:
            gone = ledger_payments[-1]
            gateway_payments = [g for g in gateway_payments if g.id != gone.gateway_payment_id]

    result = reconcile(ledger_payments, ledger_refunds, gateway_payments, gateway_refunds)
    roll = roll_suspense(previous_open, result, day)
    movement = roll.movement(previous_open).get("VND", 0)
    apportionment = apportion(pools)
    fees = knobs.fee_per_charge * sum(1 for g in gateway_payments if g.collected)
    statements = build_statements(
        day=day,
        currency="VND",
        apportionment=apportionment,
        gross=gross,
        rides=rides_count,
        refunds=refunds_by_operator,
        fees=fees,
    )
    # The money side: what the wallets paid, what the gateway shows, what passes earned.
    gateway_net = sum(g.amount for g in gateway_payments if g.collected) - sum(
        g.amount for g in gateway_refunds if g.paid
    )
    collected = wallet_collected + gateway_net + recognised
    controls = control_totals(
        statements,
        currency="VND",
        collected=collected,
        fees=fees,
        suspense=movement,
        trial_balance=0,
    )
    return SettledDay(
        day=day, currency="VND", taps=taps, account_days=account_days, charges=charges,
        adjustments=0, apportionment=apportionment, statements=statements, controls=controls,
        exceptions_today={k: v for k, v in result.counts().items() if k.value != "matched"},
        open_exceptions=roll.open, revenue_by_hour=dict(by_hour),
    )  # fmt: skip


def _rides(rng: random.Random, operators: list[str], *, has_pass: bool) -> list[Ride]:
    rides: list[Ride] = []
    running = 0
    for _ in range(rng.choice([0, 1, 2, 2, 2, 3, 4, 6])):
        op = rng.choice(operators)
        fare = OPERATORS[op]
        if has_pass and rng.random() < 0.8:
            rides.append(
                Ride(operator_id=op, undiscounted=fare, charged=0, pass_product_id=PASS_PRODUCT)
            )
            continue
        transfer = bool(rides) and rides[-1].pass_product_id is None and rng.random() < 0.3
        charged = fare // 2 if transfer else fare
        capped = running + charged > 30_000
        charged = max(0, min(charged, 30_000 - running))
        running += charged
        rides.append(
            Ride(
                operator_id=op,
                undiscounted=fare,
                charged=charged,
                continues_previous=transfer,
                capped=capped,
            )
        )
    return rides
