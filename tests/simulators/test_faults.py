"""The demo's fault switches: every kind on by default in its reduced form, `--faults` to pick,
and the record of strikes the summary and `--json` print."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulators.errors import FaultSpecError
from simulators.faults import REDUCED, FaultKind, Faults

NOON = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


def test_by_default_every_kind_is_on_in_its_reduced_form() -> None:
    faults = Faults.parse(None)
    assert all(faults.on(kind) for kind in FaultKind)
    assert faults.dose(FaultKind.GATEWAY_500) == REDUCED[FaultKind.GATEWAY_500]
    assert faults.counts() == {kind.value: 0 for kind in FaultKind}


@pytest.mark.parametrize(
    ("spec", "on"),
    [
        ("none", set()),
        ("all", set(FaultKind)),
        ("all,-backend_restart", set(FaultKind) - {FaultKind.BACKEND_RESTART}),
        ("-backend_restart", set(FaultKind) - {FaultKind.BACKEND_RESTART}),
        ("gate_killed, batch_cut", {FaultKind.GATE_KILLED, FaultKind.BATCH_CUT}),
        ("none,gateway_500", {FaultKind.GATEWAY_500}),
        ("gate_killed=0", set()),
    ],
)
def test_a_spec_switches_kinds(spec: str, on: set[FaultKind]) -> None:
    faults = Faults.parse(spec)
    assert {kind for kind in FaultKind if faults.on(kind)} == on
    assert set(faults.counts()) == {kind.value for kind in on}


def test_a_dose_of_its_own() -> None:
    faults = Faults.parse("gateway_500=0.25,gate_killed=3")
    assert (faults.dose(FaultKind.GATEWAY_500), faults.times(FaultKind.GATE_KILLED)) == (0.25, 3)
    assert faults.times(FaultKind.BATCH_CUT) == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gate_kiled", "unknown fault 'gate_kiled'"),
        ("-nothing", "unknown fault 'nothing'"),
        ("gateway_500=lots", "dose must be a number"),
        ("gateway_500=1.5", "dose is a share"),
        ("gate_killed=1.5", "dose is a number of times"),
        ("gate_killed=-1", "dose is a number of times"),
        ("gate_killed=nan", "finite"),
        ("gateway_500=inf", "finite"),
    ],
)
def test_a_bad_spec_is_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message) as caught:
        Faults.parse(spec)
    assert "\n" not in str(caught.value)


def test_strikes_are_counted_and_summarised_in_time_order() -> None:
    faults = Faults.parse("gate_killed,batch_twice,gateway_500")
    faults.struck(
        FaultKind.BATCH_TWICE, "batch of gate-1 sent twice", "stored once", NOON + timedelta(days=1)
    )
    faults.struck(
        FaultKind.GATE_KILLED, "gate-2 killed, 3 records unsent", "uploaded on restart",
        NOON.replace(hour=2),
    )  # fmt: skip
    assert faults.counts() == {"gate_killed": 1, "batch_twice": 1, "gateway_500": 0}
    assert faults.summary() == [
        "02:00:00  gate_killed: gate-2 killed, 3 records unsent -> uploaded on restart",
        "05:00:00 +1d  batch_twice: batch of gate-1 sent twice -> stored once",
        "gateway_500: on, never struck",
    ]


def test_the_summary_counts_the_strikes_of_a_kind_beyond_a_few() -> None:
    faults = Faults.parse("clock_skew")
    for n in range(5):
        faults.struck(FaultKind.CLOCK_SKEW, f"phone {n} 40 s fast", "refused: stale_code")
    assert faults.summary(per_kind=2) == [
        "--:--:--  clock_skew: phone 0 40 s fast -> refused: stale_code",
        "--:--:--  clock_skew: phone 1 40 s fast -> refused: stale_code",
        "clock_skew: 3 more like these",
    ]


def test_a_kind_switched_off_cannot_strike() -> None:
    faults = Faults.parse("none")
    with pytest.raises(FaultSpecError, match="switched off"):
        faults.struck(FaultKind.GATE_KILLED, "a gate", "restarted")
    with pytest.raises(FaultSpecError, match="a share"):
        faults.times(FaultKind.CLOCK_SKEW)
