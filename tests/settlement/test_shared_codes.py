"""The shared-code rule (issue 20): the same credential and TOTP step accepted at two or more
gates of one station is flagged, once per code and station; anything else is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketing.settlement.shared_codes import SharedCode, SteppedTap, shared_codes

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
STATIONS = {"cl_a": "cat_linh", "cl_b": "cat_linh"}  # two stops of one station


def tap(
    gate: str, seq: int, *, credential: int = 7, step: int = 100, stop: str = "cl_a",
    seconds: int = 0,
) -> SteppedTap:  # fmt: skip
    return SteppedTap(
        device_id=gate, device_seq=seq, credential_id=credential, account_id=f"acct-{credential}",
        step=step, stop_id=stop, at=T0 + timedelta(seconds=seconds),
    )  # fmt: skip


def test_one_code_at_two_gates_of_a_station_is_flagged_once() -> None:
    found = shared_codes(
        [tap("g2", 5, stop="cl_b", seconds=4), tap("g1", 9), tap("g3", 1, seconds=9)], STATIONS
    )
    assert found == [
        SharedCode(
            credential_id=7,
            step=100,
            station_id="cat_linh",
            account_id="acct-7",
            gates=("g1", "g2", "g3"),
            taps=(("g1", 9), ("g2", 5), ("g3", 1)),
            first_at=T0,
        )
    ]
    assert found[0].key == "7:100:cat_linh"


def test_an_honest_rider_is_not_flagged() -> None:
    # a new step at each gate; the same step twice at one gate (a re-upload of one record
    # under another seq cannot happen, but one gate is never a screenshot passed on)
    taps = [tap("g1", 1), tap("g2", 2, step=101), tap("g1", 3, step=102), tap("g1", 4, step=102)]
    assert shared_codes(taps, STATIONS) == []


def test_the_same_code_at_two_stations_is_not_a_station_share() -> None:
    assert shared_codes([tap("g1", 1), tap("g9", 1, stop="tay_ho")], STATIONS) == []


def test_codes_of_different_credentials_are_apart() -> None:
    taps = [tap("g1", 1), tap("g2", 1, credential=8), tap("g2", 2, credential=9), tap("g3", 2)]
    found = shared_codes(taps, STATIONS)
    assert [(s.credential_id, s.gates) for s in found] == [(7, ("g1", "g3"))]


def test_a_stop_with_no_station_is_its_own() -> None:
    found = shared_codes([tap("g1", 1, stop="x"), tap("g2", 1, stop="x")], {})
    assert [s.station_id for s in found] == ["x"]
