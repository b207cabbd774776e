"""The rules a journal tap is judged by (`ticketing.journal`), on plain values: whose tap it is,
whether it fits its device and the feed, and whether its time is plausible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketing.devices import Binding, DeviceKind
from ticketing.journal import (
    DeviceTap,
    FeedPlaces,
    QuarantineReason,
    judge,
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


def test_only_taps_pricing_can_use_may_be_attributed() -> None:
    assert QuarantineReason.UNKNOWN_CREDENTIAL.attributable
    assert QuarantineReason.STALE_DENY_LIST.attributable
    assert not QuarantineReason.UNKNOWN_STOP.attributable
    assert not QuarantineReason.IMPLAUSIBLE_TIME.attributable
