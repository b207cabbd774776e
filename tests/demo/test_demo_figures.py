"""The demo's conservation table: what it prints adds up, or it is not ticked."""

from __future__ import annotations

from dataclasses import replace

from faregate.demo.figures import DemoFigures

# A late tap lowered an earlier settled day: the operators give 3,000 back out of their
# shares, so the days collected 3,000 less than they apportioned (as in the demo's day).
SETTLED = DemoFigures(
    taps_made=10,
    taps_stored=10,
    taps_priced=10,
    taps_quarantined=0,
    charged=10_470_000,
    ledger_collected=10_470_000,
    settled_collected=10_470_000,
    apportioned_total=10_473_000,
    given_back=3_000,
    suspense=0,
    controls_ok=True,
    refusals={"stale_code": 1},
    ledger_ok=True,
)


def test_the_settled_days_add_up_with_what_the_operators_give_back() -> None:
    assert SETTLED.settled_balanced
    assert SETTLED.conservation_ok
    assert all(SETTLED.checks().values())


def test_sums_that_do_not_add_up_are_not_ticked_even_if_each_day_says_so() -> None:
    unexplained = replace(SETTLED, given_back=0)
    assert not unexplained.settled_balanced
    assert not unexplained.conservation_ok
    assert not unexplained.checks()[
        "settled: collected = apportioned - given back + suspense, each day"
    ]


def test_a_day_whose_control_failed_is_not_ticked() -> None:
    assert not replace(SETTLED, controls_ok=False).conservation_ok
