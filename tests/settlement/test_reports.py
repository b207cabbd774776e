"""Statements, controls, digest and the written reports of a settled day."""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faregate_data.operators import load_operators
from ticketing.postings import UNKNOWN_OPERATOR
from ticketing.settlement.apportion import Apportionment
from ticketing.settlement.controls import control_totals
from ticketing.settlement.errors import InvalidSettlementInput
from ticketing.settlement.report import money, render_html
from ticketing.settlement.statements import build_statements
from ticketing.settlement.summary import SettlementSummary
from ticketing.settlement.writers import REPORT_TYPES, Report, write_reports

from .synthetic import Knobs, synthetic_day

DAY = date(2025, 3, 14)


def test_a_statement_shows_gross_discounts_refunds_fees_and_net() -> None:
    apportioned = Apportionment(total=30_000, by_operator={"metro-2a": 20_000, "bus": 10_000})
    [bus, metro] = build_statements(
        day=DAY,
        currency="VND",
        apportionment=apportioned,
        gross={"metro-2a": 30_000, "bus": 14_000},
        rides={"metro-2a": 2, "bus": 2},
        refunds={"bus": 4_000},
        fees=1_000,
    )
    # Fees split 20,000 : 6,000 (revenue less refunds) -> 769.2 / 230.8 -> 769 / 231.
    assert (metro.gross, metro.discounts, metro.revenue, metro.fees, metro.net) == (
        30_000, 10_000, 20_000, 769, 19_231,
    )  # fmt: skip
    assert (bus.refunds, bus.fees, bus.net) == (4_000, 231, 5_769)


def test_rides_no_operator_could_be_credited_with_get_no_statement_of_their_own() -> None:
    """Issue 19: an "unknown" operator with 0 VND appeared in statements."""
    apportioned = Apportionment(total=9_000, by_operator={"metro-2a": 9_000})
    statements = build_statements(
        day=DAY, currency="VND", apportionment=apportioned,
        gross={"metro-2a": 9_000, UNKNOWN_OPERATOR: 0},
        rides={"metro-2a": 1, UNKNOWN_OPERATOR: 2}, refunds={}, fees=0,
    )  # fmt: skip
    assert [s.operator_id for s in statements] == ["metro-2a"]
    # Money on it (a route with no agency in a feed that names one): it stays, so the
    # statements still add up to what was collected.
    kept = build_statements(
        day=DAY, currency="VND",
        apportionment=Apportionment(total=9_000, by_operator={UNKNOWN_OPERATOR: 9_000}),
        gross={UNKNOWN_OPERATOR: 9_000}, rides={UNKNOWN_OPERATOR: 1}, refunds={}, fees=0,
    )  # fmt: skip
    assert [(s.operator_id, s.net) for s in kept] == [(UNKNOWN_OPERATOR, 9_000)]


def test_fees_on_a_day_without_operators_are_refused() -> None:
    with pytest.raises(InvalidSettlementInput, match="fees"):
        build_statements(
            day=DAY, currency="VND", apportionment=Apportionment(total=0, by_operator={}),
            gross={}, rides={}, refunds={}, fees=10,
        )  # fmt: skip


def test_a_control_breaks_when_money_or_the_trial_balance_is_off() -> None:
    settled = synthetic_day(random.Random(7))
    assert settled.controls.ok
    statements = settled.statements
    c = settled.controls
    short = control_totals(
        statements,
        currency="VND",
        collected=c.collected - 1,
        fees=c.fees,
        suspense=c.suspense,
        trial_balance=0,
    )
    assert (short.money_ok, short.difference) == (False, -1)
    # The ledger's suspense movement and the exceptions table's must agree.
    apart = control_totals(
        statements,
        currency="VND",
        collected=c.collected,
        fees=c.fees,
        suspense=c.suspense,
        suspense_exceptions=c.suspense + 1,
        trial_balance=0,
    )
    assert (apart.money_ok, apart.suspense_ok, apart.ok) == (True, False, False)
    unbalanced = replace(c, trial_balance=5)
    assert (unbalanced.trial_balance_ok, unbalanced.ok) == (False, False)


@settings(max_examples=60, deadline=None)
@given(
    st.randoms(use_true_random=False),
    st.builds(
        Knobs,
        accounts=st.integers(0, 60),
        decline_rate=st.floats(0, 1),
        card_share=st.floats(0, 1),
        pass_holders=st.integers(0, 8),
        exceptions=st.booleans(),
        fee_per_charge=st.integers(0, 500),
    ),
)
def test_controls_hold_and_shares_are_exact_for_random_days(
    rng: random.Random, knobs: Knobs
) -> None:
    settled = synthetic_day(rng, DAY, knobs)
    assert settled.controls.ok, settled.controls
    apportioned = settled.apportionment
    assert sum(apportioned.by_operator.values()) == apportioned.total
    assert all(share >= 0 for share in apportioned.by_operator.values())
    assert sum(s.revenue for s in settled.statements) == apportioned.total
    assert sum(s.fees for s in settled.statements) == settled.controls.fees


def test_the_digest_is_stable_and_moves_with_any_figure() -> None:
    one, again = synthetic_day(random.Random(3)), synthetic_day(random.Random(3))
    assert one.digest() == again.digest()
    assert re.fullmatch(r"[0-9a-f]{64}", one.digest())
    assert replace(one, taps=one.taps + 1).digest() != one.digest()
    first = one.statements[0]
    moved = replace(one, statements=(replace(first, fees=first.fees + 1), *one.statements[1:]))
    assert moved.digest() != one.digest()


def test_reports_are_written_with_the_figures(tmp_path: Path) -> None:
    settled = synthetic_day(random.Random(11))
    files = write_reports(
        settled,
        tmp_path / "reports" / "2025-03-14",
        registry=load_operators(),
        journal=(),
        written_at=datetime(2025, 3, 15, 9, tzinfo=UTC),
    )

    with files.path(Report.STATEMENTS_CSV).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["operator"] for r in rows] == [s.operator_id for s in settled.statements]
    assert [int(r["net"]) for r in rows] == [s.net for s in settled.statements]
    assert (
        json.loads(files.path(Report.STATEMENTS_JSON).read_text())[0]["operator"]
        == settled.statements[0].operator_id
    )
    exceptions = json.loads(files.path(Report.EXCEPTIONS_JSON).read_text())
    assert len(exceptions) == len(settled.open_exceptions) > 0
    with files.path(Report.EXCEPTIONS_CSV).open() as handle:
        assert {r["category"] for r in csv.DictReader(handle)} == {
            e["category"] for e in exceptions
        }
    summary = json.loads(files.path(Report.SETTLEMENT_JSON).read_text())
    assert summary["digest"] == settled.digest()
    assert json.loads(files.path(Report.CONTROLS_JSON).read_text())["ok"] is True
    assert not list(files.directory.glob(".*partial"))
    # what finance may download (REPORT_TYPES) is exactly what a run writes
    assert sorted(p.name for p in files.directory.iterdir()) == sorted(REPORT_TYPES)


def test_the_html_report_is_self_contained_and_shows_the_figures() -> None:
    settled = synthetic_day(random.Random(11))
    html = render_html(settled)

    assert not re.search(
        r"""(?:src|href|xlink:href|action)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I
    )
    assert "http" not in html.lower()
    assert "@import" not in html
    assert "url(" not in html
    assert html.count("<svg") == 3
    assert "Controls hold" in html
    for statement in settled.statements:
        assert statement.operator_id in html
        assert money(statement.net, "VND") in html
    assert money(settled.controls.collected, "VND") in html
    for exception in settled.open_exceptions:
        assert (exception.line.gateway_ref or exception.line.ledger_ref or "") in html
    assert settled.digest() in html
    # Control status comes before any chart or table: the first screen shows it.
    assert html.index('id="controls"') < html.index("<svg") < html.index('id="statements"')


def test_a_failing_control_is_shown_as_failing() -> None:
    settled = synthetic_day(random.Random(11))
    broken = replace(
        settled, controls=replace(settled.controls, collected=settled.controls.collected + 500)
    )
    html = render_html(broken)
    assert "Controls FAIL" in html
    assert f"difference {money(500, 'VND')}" in html
    apart = replace(
        settled,
        controls=replace(settled.controls, suspense_exceptions=settled.controls.suspense + 700),
    )
    html = render_html(apart)
    assert "Controls FAIL" in html
    assert f"exceptions table {money(settled.controls.suspense + 700, 'VND')}" in html


def test_an_empty_day_renders() -> None:
    settled = synthetic_day(random.Random(1), DAY, Knobs(accounts=0, pass_holders=0))
    html = render_html(settled)
    assert "No revenue apportioned." in html
    assert "Nothing in suspense" in html


def test_the_json_summary_has_the_issues_names() -> None:
    settled = synthetic_day(random.Random(5))
    typed = settled.summary("/data/reports/2025-03-14/report.html")
    summary = typed.as_json()
    assert SettlementSummary.from_json(summary) == typed
    assert set(summary) >= {
        "day", "taps", "account_days", "charges", "collected", "apportioned", "suspense",
        "exceptions", "adjustments", "control_ok", "report", "digest",
    }  # fmt: skip
    assert summary["collected"] == {"amount": settled.controls.collected, "currency": "VND"}
    assert sum(summary["apportioned"].values()) == settled.apportionment.total
    assert summary["suspense"]["amount"] == sum(e.line.suspense for e in settled.open_exceptions)
    assert summary["control_ok"] is True
    assert summary["digest"] == settled.digest()
    json.dumps(summary)  # plain JSON values only


def test_unpriced_legs_and_uncollected_days_are_in_the_exceptions_chart() -> None:
    settled = synthetic_day(random.Random(11))
    chart = "exceptions-by-kind"

    def section(html: str) -> str:
        start = html.index(f'id="{chart}"')
        return html[start : html.index("</svg>", start)]

    none = section(render_html(settled))
    assert "unpriced leg" in none  # shown at zero when the day has none
    assert "uncollected" in none
    assert "2 · " not in none
    assert "3 · " not in none
    with_day = replace(settled, day_exceptions={"unpriced_leg": (2, 0), "uncollected": (3, 45_000)})
    shown = section(render_html(with_day))
    assert "unpriced leg" in shown
    assert f"2 · {money(0, 'VND')}" in shown
    assert "uncollected" in shown
    assert f"3 · {money(45_000, 'VND')}" in shown
