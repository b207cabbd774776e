"""The rules a journal tap is judged by (`ticketing.journal`), on plain values: whose tap it is,
whether it fits its device and the feed, and whether its time is plausible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketing.devices import Binding, DeviceKind
from ticketing.journal import (
    ENROLMENT_SLACK,
    MAX_AGE,
    MAX_AHEAD,
    DeviceTap,
    FeedPlaces,
    QuarantineReason,
    attributed,
    judge,
    judge_upload,
)
from ticketing.riders import CredentialRecord
from ticketing.taps import TapKind

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
PLACES = FeedPlaces(
    stops={"a1", "a2", "b1"},
    routes={"red", "bus9"},
    station_of={"a1": "A", "a2": "A", "b1": "b1"},
)
GATE_A = Binding(kind=DeviceKind.GATE, stop_id="a1")
BUS9 = Binding(kind=DeviceKind.VALIDATOR, route_id="bus9")
ISSUED = NOW - timedelta(days=10)
CREDENTIAL = CredentialRecord(2**64 - 1, "alice", ISSUED, NOW + timedelta(days=300), ISSUED)
REVOKED = CredentialRecord(
    7, "bob", ISSUED, NOW + timedelta(days=300), ISSUED, revoked_at=NOW - timedelta(hours=1)
)


def tap(**changes: object) -> DeviceTap:
    values: dict[str, object] = {
        "device_id": "g", "device_seq": 1, "credential_id": CREDENTIAL.credential_id,
        "at": NOW - timedelta(minutes=5), "route_id": "red", "stop_id": "a1",
        "kind": TapKind.ENTRY,
    }  # fmt: skip
    values.update(changes)
    return DeviceTap(**values)  # type: ignore[arg-type]


def test_a_tap_is_its_credentials_accounts() -> None:
    verdict = judge(tap(), GATE_A, PLACES, CREDENTIAL, NOW)
    assert (verdict.account_id, verdict.reason) == ("alice", None)
    # another stop of the same station is the gate's station
    assert judge(tap(stop_id="a2"), GATE_A, PLACES, CREDENTIAL, NOW).account_id == "alice"


def test_what_cannot_be_attributed_or_priced_has_its_reason() -> None:
    cases = [
        (tap(), GATE_A, None, QuarantineReason.UNKNOWN_CREDENTIAL),
        (tap(stop_id="b1"), GATE_A, CREDENTIAL, QuarantineReason.WRONG_PLACE),
        (tap(stop_id="zz"), GATE_A, CREDENTIAL, QuarantineReason.UNKNOWN_STOP),
        (tap(route_id="zz"), GATE_A, CREDENTIAL, QuarantineReason.UNKNOWN_ROUTE),
        (tap(route_id="red", kind=TapKind.BOARD), BUS9, CREDENTIAL, QuarantineReason.WRONG_PLACE),
        (tap(at=NOW + timedelta(days=2)), GATE_A, CREDENTIAL, QuarantineReason.IMPLAUSIBLE_TIME),
        (tap(at=NOW - timedelta(days=91)), GATE_A, CREDENTIAL, QuarantineReason.IMPLAUSIBLE_TIME),
        (tap(credential_id=7), GATE_A, REVOKED, QuarantineReason.REVOKED_CREDENTIAL),
        (tap(credential_id=7, deny_list_stale=True), GATE_A, REVOKED,
         QuarantineReason.STALE_DENY_LIST),
    ]  # fmt: skip
    for record, binding, credential, reason in cases:
        verdict = judge(record, binding, PLACES, credential, NOW)
        assert (verdict.account_id, verdict.reason) == (None, reason), record
        assert verdict.detail


def test_a_tap_made_before_its_credential_was_revoked_is_the_riders() -> None:
    before = tap(credential_id=7, at=NOW - timedelta(hours=2), deny_list_stale=True)
    assert judge(before, GATE_A, PLACES, REVOKED, NOW).account_id == "bob"


def test_a_tap_dated_before_its_device_was_enrolled_is_quarantined() -> None:
    enrolled = NOW - timedelta(hours=1)
    early_tap = tap(at=enrolled - timedelta(minutes=6))
    early = judge(early_tap, GATE_A, PLACES, CREDENTIAL, NOW, enrolled)
    assert (early.account_id, early.reason) == (None, QuarantineReason.BEFORE_ENROLMENT)
    assert enrolled.isoformat() in early.detail
    # within the clock error a signed request may have, the tap is the rider's
    slack = tap(at=enrolled - timedelta(minutes=4))
    assert judge(slack, GATE_A, PLACES, CREDENTIAL, NOW, enrolled).account_id == "alice"
    assert judge(tap(at=enrolled), GATE_A, PLACES, CREDENTIAL, NOW, enrolled).account_id == "alice"
    # a re-enrolled device's taps of its earlier service may be genuine: finance may attribute
    assert QuarantineReason.BEFORE_ENROLMENT.attributable


def test_an_upload_is_judged_as_each_of_its_taps_would_be() -> None:
    """`judge_upload` takes shortcuts for a whole upload: the same verdicts as `judge`, at
    every edge of the time window, of a revocation and of each place."""
    enrolled = NOW - timedelta(hours=1)
    times = [
        NOW + MAX_AHEAD, NOW + MAX_AHEAD + timedelta(microseconds=1), NOW - MAX_AGE,
        NOW - MAX_AGE - timedelta(microseconds=1), enrolled - ENROLMENT_SLACK,
        enrolled - ENROLMENT_SLACK - timedelta(microseconds=1), REVOKED.revoked_at,
        NOW - timedelta(hours=2), NOW - timedelta(minutes=5),
    ]  # fmt: skip
    places = [("a1", "red"), ("a2", "red"), ("b1", "red"), ("zz", "red"), ("a1", "zz"),
              ("b1", "bus9")]  # fmt: skip
    credentials = {c.credential_id: c for c in (CREDENTIAL, REVOKED)}
    taps = [
        tap(device_seq=n, at=at, stop_id=stop, route_id=route, credential_id=credential,
            deny_list_stale=stale)
        for n, (at, (stop, route), credential, stale) in enumerate(
            (at, place, credential, stale)
            for at in times for place in places
            for credential in (CREDENTIAL.credential_id, 7, 99) for stale in (False, True)
        )
    ]  # fmt: skip
    for binding in (GATE_A, BUS9):
        for since in (None, enrolled, NOW - MAX_AGE - timedelta(days=1)):
            good, bad = judge_upload(taps, binding, PLACES, credentials, NOW, since)
            expected = [
                (t, judge(t, binding, PLACES, credentials.get(t.credential_id), NOW, since))
                for t in taps
            ]
            assert good == [attributed(t, v.account_id) for t, v in expected if v.account_id]
            assert bad == [(t, v) for t, v in expected if v.account_id is None]
            assert good
            assert bad


def test_only_taps_pricing_can_use_may_be_attributed() -> None:
    assert QuarantineReason.UNKNOWN_CREDENTIAL.attributable
    assert QuarantineReason.STALE_DENY_LIST.attributable
    assert not QuarantineReason.UNKNOWN_STOP.attributable
    assert not QuarantineReason.IMPLAUSIBLE_TIME.attributable
