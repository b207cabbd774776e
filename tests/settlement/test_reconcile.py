"""Reconciliation: each discrepancy in its category with the right amount, the rest matched;
properties over random ledgers and gateways; suspense across runs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.protocol import (
    CHARGE_KEY_METADATA_KEY,
    IDEMPOTENCY_METADATA_KEY,
    BalanceTransaction,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from ticketing.settlement.errors import InvalidSettlementInput
from ticketing.settlement.reconcile import (
    Category,
    GatewayPaymentRecord,
    GatewayRefundRecord,
    LedgerPayment,
    LedgerRefund,
    Side,
    from_gateway_payment,
    from_gateway_refund,
    gateway_fees,
    reconcile,
    roll_suspense,
)

DAY = date(2025, 3, 14)


def _mine(n: int, amount: int, *, gateway_id: str | None = None, day: date = DAY) -> LedgerPayment:
    return LedgerPayment(
        attempt_id=f"charge:acc-{n}:{day}",
        charge_key=f"charge:acc-{n}:{day}",
        amount=amount,
        currency="VND",
        gateway_payment_id=gateway_id,
        day=day,
    )


def _theirs(
    gid: str, key: str | None, amount: int, *, collected: bool = True, day: date = DAY
) -> GatewayPaymentRecord:
    return GatewayPaymentRecord(
        id=gid,
        idempotency_key=key,
        charge_key=key,
        amount=amount,
        currency="VND",
        collected=collected,
        day=day,
    )


def _gw_refund(
    gid: str, key: str | None, amount: int, payment: str = "pi_1"
) -> GatewayRefundRecord:
    return GatewayRefundRecord(
        id=gid,
        payment_id=payment,
        idempotency_key=key,
        amount=amount,
        currency="VND",
        paid=True,
        day=DAY,
    )


def test_each_injected_discrepancy_lands_in_its_category_with_its_amount() -> None:
    ledger = [
        _mine(1, 20_000, gateway_id="pi_1"),  # matched by gateway id
        _mine(2, 15_000),  # matched by idempotency key (the answer was lost)
        _mine(3, 9_000, gateway_id="pi_3"),  # the gateway never collected it
        _mine(4, 30_000, gateway_id="pi_4"),  # amount changed at the gateway
        _mine(5, 12_000, gateway_id="pi_5a"),  # ... and charged twice
    ]
    gateway = [
        _theirs("pi_1", "charge:acc-1:2025-03-14", 20_000),
        _theirs("pi_2", "charge:acc-2:2025-03-14", 15_000),
        _theirs("pi_3", "charge:acc-3:2025-03-14", 9_000, collected=False),
        _theirs("pi_4", "charge:acc-4:2025-03-14", 31_000),
        _theirs("pi_5a", "charge:acc-5:2025-03-14", 12_000),
        _theirs("pi_5b", "charge:acc-5:2025-03-14", 12_000),
        _theirs("pi_x", None, 7_000),  # nobody asked for this one
    ]
    ledger_refunds = [
        LedgerRefund(
            refund_id="refund:1",
            attempt_id="charge:acc-1:2025-03-14",
            amount=5_000,
            currency="VND",
            gateway_refund_id="re_1",
            day=DAY,
        )
    ]
    gateway_refunds = [_gw_refund("re_1", "refund:1", 5_000), _gw_refund("re_dash", None, 2_500)]

    result = reconcile(ledger, ledger_refunds, gateway, gateway_refunds)
    got = {
        (line.category, line.side, line.gateway_ref or line.ledger_ref, line.amount, line.suspense)
        for line in result.exceptions
    }
    assert got == {
        (Category.MISSING_AT_GATEWAY, Side.PAYMENT, "charge:acc-3:2025-03-14", 9_000, -9_000),
        (Category.AMOUNT_MISMATCH, Side.PAYMENT, "pi_4", 1_000, 1_000),
        (Category.DUPLICATE, Side.PAYMENT, "pi_5b", 12_000, 12_000),
        (Category.UNKNOWN_AT_GATEWAY, Side.PAYMENT, "pi_x", 7_000, 7_000),
        (Category.REFUND, Side.REFUND, "re_dash", 2_500, -2_500),
    }
    matched = {line.gateway_ref for line in result.lines if line.category is Category.MATCHED}
    assert matched == {"pi_1", "pi_2", "pi_5a", "re_1"}
    assert result.counts()[Category.MATCHED] == 4
    assert result.suspense() == {"VND": -9_000 + 1_000 + 12_000 + 7_000 - 2_500}


def test_a_late_duplicate_of_an_earlier_days_charge_is_a_duplicate() -> None:
    late = _theirs("pi_late", "charge:acc-9:2025-03-13", 10_000)
    assert [line.category for line in reconcile([], [], [late], []).lines] == [
        Category.UNKNOWN_AT_GATEWAY
    ]
    result = reconcile([], [], [late], [], known_charge_keys=["charge:acc-9:2025-03-13"])
    assert [line.category for line in result.lines] == [Category.DUPLICATE]


def test_a_ledger_refund_the_gateway_never_paid_is_missing_and_a_changed_one_mismatched() -> None:
    refunds = [
        LedgerRefund(
            refund_id="r1",
            attempt_id="a",
            amount=100,
            currency="VND",
            gateway_refund_id=None,
            day=DAY,
        ),
        LedgerRefund(
            refund_id="r2",
            attempt_id="a",
            amount=100,
            currency="VND",
            gateway_refund_id="re_2",
            day=DAY,
        ),
    ]
    result = reconcile([], refunds, [], [_gw_refund("re_2", "r2", 80)])
    assert {(line.category, line.suspense) for line in result.lines} == {
        (Category.MISSING_AT_GATEWAY, 100),  # the gateway still holds the money
        (Category.AMOUNT_MISMATCH, 20),
    }


def test_a_payment_in_another_currency_is_never_netted() -> None:
    theirs = GatewayPaymentRecord(
        id="pi_1",
        idempotency_key="k",
        charge_key="k",
        amount=20_000,
        currency="USD",
        collected=True,
        day=DAY,
    )
    mine = LedgerPayment(
        attempt_id="k",
        charge_key="k",
        amount=20_000,
        currency="VND",
        gateway_payment_id="pi_1",
        day=DAY,
    )
    result = reconcile([mine], [], [theirs], [])
    assert result.suspense() == {"USD": 20_000, "VND": -20_000}


def test_records_listed_twice_are_refused() -> None:
    with pytest.raises(InvalidSettlementInput, match="twice"):
        reconcile([], [], [_theirs("pi_1", None, 1), _theirs("pi_1", None, 1)], [])
    with pytest.raises(InvalidSettlementInput, match="amount"):
        reconcile([_mine(1, 0)], [], [], [])


def test_from_gateway_payment_reads_our_keys_from_the_metadata() -> None:
    payment = Payment(
        id="pi_1",
        status=PaymentStatus.SUCCEEDED,
        amount=5,
        currency="VND",
        created=datetime(2025, 3, 14, 3, tzinfo=UTC),
        customer_id=None,
        payment_method_id=None,
        idempotency_key="charge:a:2025-03-14:retry-1",
        metadata={
            IDEMPOTENCY_METADATA_KEY: "charge:a:2025-03-14:retry-1",
            CHARGE_KEY_METADATA_KEY: "charge:a:2025-03-14",
        },
    )
    record = from_gateway_payment(payment, DAY)
    assert (record.charge_key, record.collected, record.day) == ("charge:a:2025-03-14", True, DAY)
    refund = Refund(
        id="re_1", payment_id="pi_1", amount=2, currency="VND", status=RefundStatus.PENDING,
        created=payment.created, idempotency_key="refund:1", metadata={},
    )  # fmt: skip
    read = from_gateway_refund(refund, DAY)
    assert (read.payment_id, read.idempotency_key, read.paid) == ("pi_1", "refund:1", False)


def test_suspense_leaves_when_a_later_run_matches_or_finance_settles() -> None:
    day1 = reconcile([_mine(1, 9_000, gateway_id="pi_1")], [], [_theirs("pi_d", "zzz", 4_000)], [])
    roll1 = roll_suspense([], day1, DAY)
    assert roll1.balance() == {"VND": -9_000 + 4_000}
    assert all(e.line.age(date(2025, 3, 20)) == 6 for e in roll1.open)

    # Next day the missing payment shows up at the gateway; the unknown one is still unknown.
    later = date(2025, 3, 15)
    day2 = reconcile(
        [_mine(1, 9_000, gateway_id="pi_1")],
        [],
        [_theirs("pi_1", None, 9_000), _theirs("pi_d", "zzz", 4_000)],
        [],
    )
    roll2 = roll_suspense(roll1.open, day2, later)
    assert [e.line.ledger_ref for e in roll2.resolved] == ["charge:acc-1:2025-03-14"]
    assert [(e.key, e.first_seen) for e in roll2.carried] == [("payment:gateway:pi_d", DAY)]
    assert roll2.opened == ()
    assert roll2.movement(roll1.open) == {"VND": 9_000}

    roll3 = roll_suspense(
        roll2.open,
        reconcile([], [], [], []),
        date(2025, 3, 16),
        settled_keys=["payment:gateway:pi_d"],
    )
    assert roll3.balance() == {}
    assert len(roll3.resolved) == 1
    assert roll3.movement(roll2.open) == {"VND": -4_000}


# -- properties ------------------------------------------------------------------------------

amounts = st.integers(1, 100_000)


@st.composite
def books(
    draw: st.DrawFn,
) -> tuple[
    list[LedgerPayment], list[LedgerRefund], list[GatewayPaymentRecord], list[GatewayRefundRecord]
]:
    """A random day: ledger and gateway mostly agreeing, with every kind of disagreement."""
    ledger, gateway, ledger_refunds, gateway_refunds = [], [], [], []
    for n in range(draw(st.integers(0, 12))):
        key = f"charge:acc-{n}"
        amount = draw(amounts)
        fate = draw(
            st.sampled_from(
                ["ok", "ok", "lost_id", "missing", "failed", "changed", "twice", "unknown"]
            )
        )
        if fate != "unknown":
            gid = None if fate in ("lost_id", "missing") else f"pi_{n}"
            ledger.append(
                LedgerPayment(
                    attempt_id=key,
                    charge_key=key,
                    amount=amount,
                    currency="VND",
                    gateway_payment_id=gid,
                    day=DAY,
                )
            )
        if fate != "missing":
            gateway.append(
                _theirs(
                    f"pi_{n}",
                    key,
                    amount + (draw(amounts) if fate == "changed" else 0),
                    collected=fate != "failed",
                )
            )
        if fate == "twice":
            gateway.append(_theirs(f"pi_{n}b", key, amount))
        if draw(st.booleans()):
            refund = draw(st.integers(1, amount))
            where = draw(st.sampled_from(["both", "ledger", "gateway"]))
            if where != "gateway":
                ledger_refunds.append(
                    LedgerRefund(
                        refund_id=f"r{n}",
                        attempt_id=key,
                        amount=refund,
                        currency="VND",
                        gateway_refund_id=None,
                        day=DAY,
                    )
                )
            if where != "ledger":
                gateway_refunds.append(
                    _gw_refund(f"re_{n}", f"r{n}" if where == "both" else None, refund, f"pi_{n}")
                )
    return ledger, ledger_refunds, gateway, gateway_refunds


@given(books())
def test_every_record_is_in_one_line_and_suspense_is_exactly_the_difference(
    day: tuple[
        list[LedgerPayment],
        list[LedgerRefund],
        list[GatewayPaymentRecord],
        list[GatewayRefundRecord],
    ],
) -> None:
    ledger, ledger_refunds, gateway, gateway_refunds = day
    result = reconcile(ledger, ledger_refunds, gateway, gateway_refunds)

    ledger_refs = sorted(line.ledger_ref for line in result.lines if line.ledger_ref)
    assert ledger_refs == sorted(
        [p.attempt_id for p in ledger] + [r.refund_id for r in ledger_refunds]
    )
    gateway_refs = sorted(line.gateway_ref for line in result.lines if line.gateway_ref)
    assert gateway_refs == sorted(
        [g.id for g in gateway if g.collected] + [g.id for g in gateway_refunds]
    )

    at_gateway = sum(g.amount for g in gateway if g.collected) - sum(
        g.amount for g in gateway_refunds
    )
    in_ledger = sum(p.amount for p in ledger) - sum(r.amount for r in ledger_refunds)
    assert result.suspense().get("VND", 0) == at_gateway - in_ledger
    assert all(line.amount > 0 for line in result.exceptions)

    shuffled = [list(reversed(part)) for part in day]
    assert reconcile(*shuffled) == result  # type: ignore[arg-type]


@given(books(), books(), st.sets(st.sampled_from([f"payment:gateway:pi_{n}" for n in range(12)])))
def test_suspense_rolls_forward_without_losing_anything(
    first: tuple[
        list[LedgerPayment],
        list[LedgerRefund],
        list[GatewayPaymentRecord],
        list[GatewayRefundRecord],
    ],
    second: tuple[
        list[LedgerPayment],
        list[LedgerRefund],
        list[GatewayPaymentRecord],
        list[GatewayRefundRecord],
    ],
    settled: set[str],
) -> None:
    before = roll_suspense([], reconcile(*first), DAY).open
    today = reconcile(*second)
    roll = roll_suspense(before, today, date(2025, 3, 15), settled_keys=settled)
    assert sorted(e.key for e in (*roll.carried, *roll.resolved)) == sorted(e.key for e in before)
    matched = {
        ref for line in today.lines if line.category is Category.MATCHED for ref in line.refs
    }
    for exception in roll.resolved:
        assert exception.key in settled or exception.line.refs & matched
    previous = sum(e.line.suspense for e in before)
    assert previous + roll.movement(before).get("VND", 0) == roll.balance().get("VND", 0)
    assert len({e.key for e in roll.open}) == len(roll.open)


def test_gateway_fees_are_summed_per_currency_and_unknown_stays_unknown() -> None:
    def txn(n: int, amount: int, fee: int, currency: str = "VND") -> BalanceTransaction:
        return BalanceTransaction(
            id=f"txn_{n}", type="charge", amount=amount, fee=fee, net=amount - fee,
            currency=currency, created=datetime(2025, 3, 14, tzinfo=UTC), source_id=f"ch_{n}",
        )  # fmt: skip

    assert gateway_fees([txn(1, 20_000, 600), txn(2, -5_000, -150), txn(3, 1_000, 30, "USD")]) == {
        "USD": 30,
        "VND": 450,
    }
    assert gateway_fees([]) == {}
    assert gateway_fees(None) is None
