"""The verifier's rules, one reason at a time, and the order they are checked in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qr.decision import Reason
from qr.denylist import DenyList
from qr.errors import NaiveTimeError
from qr.issue import PhoneCredential
from qr.keys import KeyMaterial
from qr.liveness import TotpWindow
from qr.memory import GateMemory
from qr.token import build_token
from qr.verifier import GateContext, StaleDenyListAction, Verifier, VerifierPolicy
from tests.helpers.qr import GATE, NOW, Issue

PERIOD = 15


def _at_step(step: int, second: int = 0) -> datetime:
    return datetime.fromtimestamp(step * PERIOD + second, UTC)


def test_valid_token_is_accepted_with_its_details(
    verifier: Verifier, phone: PhoneCredential, token: str
) -> None:
    d = verifier.verify(token, at=NOW, gate=GATE, memory=GateMemory())
    assert d.accepted
    assert d.reason is Reason.ACCEPTED
    assert d.credential_id == phone.credential.credential_id
    assert (d.issuer_kid, d.liveness_kid, d.product, d.category) == (1, 1, "M2A-DAY", "adult")
    assert d.step == int(NOW.timestamp()) // PERIOD
    assert d.step_offset == 0
    assert d.gate_id == "G1"
    assert not d.deny_list_stale


def test_both_edges_of_the_window_accepted_one_step_beyond_stale(
    verifier: Verifier, phone: PhoneCredential
) -> None:
    step = int(NOW.timestamp()) // PERIOD
    token = phone.token_at(_at_step(step))
    # Gate one step ahead (code shown late), at the last second of that step: accepted.
    late = verifier.verify(token, at=_at_step(step + 1, PERIOD - 1), gate=GATE)
    assert (late.accepted, late.step_offset) == (True, -1)
    # Gate one step behind (phone clock fast), at the first second of that step: accepted.
    early = verifier.verify(token, at=_at_step(step - 1), gate=GATE)
    assert (early.accepted, early.step_offset) == (True, 1)
    # One step beyond on either side.
    assert verifier.verify(token, at=_at_step(step + 2), gate=GATE).reason is Reason.STALE_CODE
    assert verifier.verify(
        token, at=_at_step(step - 1) - timedelta(seconds=1), gate=GATE
    ).reason is (Reason.STALE_CODE)


def test_asymmetric_window(material: KeyMaterial, phone: PhoneCredential) -> None:
    verifier = Verifier(
        material.keyset,
        material.secure_module(),
        VerifierPolicy(window=TotpWindow(before=2, after=0)),
    )
    step = int(NOW.timestamp()) // PERIOD
    token = phone.token_at(_at_step(step))
    assert verifier.verify(token, at=_at_step(step + 2), gate=GATE).accepted
    assert verifier.verify(token, at=_at_step(step + 3), gate=GATE).reason is Reason.STALE_CODE
    assert verifier.verify(token, at=_at_step(step - 1), gate=GATE).reason is Reason.STALE_CODE


def test_same_code_twice_at_one_gate_is_replayed(verifier: Verifier, token: str) -> None:
    memory = GateMemory()
    assert verifier.verify(token, at=NOW, gate=GATE, memory=memory).accepted
    second = verifier.verify(token, at=NOW + timedelta(seconds=3), gate=GATE, memory=memory)
    assert (second.accepted, second.reason) == (False, Reason.REPLAYED)
    # Another gate with its own memory accepts it: replay memory is per gate.
    assert verifier.verify(token, at=NOW, gate=GateContext("G2"), memory=GateMemory()).accepted


def test_older_code_after_a_newer_one_is_replayed(
    verifier: Verifier, phone: PhoneCredential
) -> None:
    memory = GateMemory()
    step = int(NOW.timestamp()) // PERIOD
    newer, older = phone.token_at(_at_step(step)), phone.token_at(_at_step(step - 1))
    assert verifier.verify(newer, at=_at_step(step), gate=GATE, memory=memory).accepted
    assert (
        verifier.verify(older, at=_at_step(step), gate=GATE, memory=memory).reason
        is Reason.REPLAYED
    )


def test_fresh_code_soon_after_is_passback_later_accepted(
    verifier: Verifier, phone: PhoneCredential
) -> None:
    memory = GateMemory()
    assert verifier.verify(phone.token_at(NOW), at=NOW, gate=GATE, memory=memory).accepted
    soon = NOW + timedelta(seconds=60)
    d = verifier.verify(phone.token_at(soon), at=soon, gate=GATE, memory=memory)
    assert d.reason is Reason.PASSBACK
    later = NOW + timedelta(seconds=verifier.policy.passback_seconds)
    assert verifier.verify(phone.token_at(later), at=later, gate=GATE, memory=memory).accepted


def test_refused_use_is_not_remembered(verifier: Verifier, token: str) -> None:
    memory = GateMemory()
    wrong_gate = GateContext("P1", accepted_products=frozenset({"PARK*"}))
    assert (
        verifier.verify(token, at=NOW, gate=wrong_gate, memory=memory).reason is Reason.NOT_ENTITLED
    )
    assert len(memory) == 0
    assert verifier.verify(token, at=NOW, gate=GATE, memory=memory).accepted


def test_entitlement_by_code_and_prefix(verifier: Verifier, token: str) -> None:
    for products, accepted in [
        (frozenset({"M2A-DAY"}), True),
        (frozenset({"M2A*"}), True),
        (frozenset({"M3*", "BUS-ALL"}), False),
    ]:
        d = verifier.verify(token, at=NOW, gate=GateContext("G", products))
        assert d.accepted is accepted
        assert d.reason is (Reason.ACCEPTED if accepted else Reason.NOT_ENTITLED)


def test_validity_window(verifier: Verifier, issue: Issue) -> None:
    start, end = datetime(2025, 6, 1, 8, tzinfo=UTC), datetime(2025, 6, 1, 9, tzinfo=UTC)
    phone = issue(valid_from=start, valid_until=end)
    for at, reason in [
        (start - timedelta(seconds=1), Reason.NOT_YET_VALID),
        (start, Reason.ACCEPTED),
        (end - timedelta(seconds=1), Reason.ACCEPTED),
        (end, Reason.EXPIRED),
    ]:
        assert verifier.verify(phone.token_at(at), at=at, gate=GATE).reason is reason


def test_denied_and_deny_list_version_reported(
    verifier: Verifier, phone: PhoneCredential, token: str
) -> None:
    verifier.deny_list = DenyList(12, frozenset({phone.credential.credential_id}))
    d = verifier.verify(token, at=NOW, gate=GATE)
    assert (d.accepted, d.reason, d.deny_list_version) == (False, Reason.DENIED, 12)
    verifier.deny_list = DenyList(13, frozenset())
    d = verifier.verify(token, at=NOW, gate=GATE)
    assert (d.accepted, d.deny_list_version) == (True, 13)


@pytest.mark.parametrize(
    ("action", "accepted", "reason"),
    [
        (StaleDenyListAction.ACCEPT_FLAGGED, True, Reason.ACCEPTED),
        (StaleDenyListAction.REFUSE, False, Reason.DENY_LIST_STALE),
    ],
)
def test_offline_risk_policy_for_a_stale_deny_list(
    material: KeyMaterial, token: str, action: StaleDenyListAction, accepted: bool, reason: Reason
) -> None:
    policy = VerifierPolicy(max_deny_list_age=timedelta(hours=6), stale_deny_list=action)
    verifier = Verifier(material.keyset, material.secure_module(), policy)
    verifier.deny_list = DenyList(3, frozenset(), issued_at=NOW - timedelta(hours=5))
    fresh = verifier.verify(token, at=NOW, gate=GATE)
    assert (fresh.accepted, fresh.deny_list_stale) == (True, False)
    verifier.deny_list = DenyList(3, frozenset(), issued_at=NOW - timedelta(hours=7))
    stale = verifier.verify(token, at=NOW, gate=GATE)
    assert (stale.accepted, stale.reason, stale.deny_list_stale) == (accepted, reason, True)
    assert "offline policy" in stale.detail


def test_bad_signature(verifier: Verifier, phone: PhoneCredential) -> None:
    signed = bytearray(phone.signed)
    signed[-1] ^= 0x01
    d = verifier.verify(build_token(bytes(signed), phone.code_at(NOW)), at=NOW, gate=GATE)
    assert d.reason is Reason.BAD_SIGNATURE
    assert not d.accepted


def test_order_signature_before_validity_and_deny(
    verifier: Verifier, phone: PhoneCredential
) -> None:
    verifier.deny_list = DenyList(1, frozenset({phone.credential.credential_id}))
    late = datetime(2030, 1, 1, tzinfo=UTC)  # after the credential and after its keys' end
    assert verifier.verify(phone.token_at(late), at=late, gate=GATE).reason is Reason.UNKNOWN_KEY
    after = datetime(2025, 6, 3, tzinfo=UTC)  # expired, denied and stale at once
    assert verifier.verify(phone.token_at(NOW), at=after, gate=GATE).reason is Reason.EXPIRED
    # The same expired, denied credential with a broken signature: the signature comes first.
    forged = bytearray(phone.signed)
    forged[-1] ^= 0x01
    forged_token = build_token(bytes(forged), phone.code_at(after))
    assert verifier.verify(forged_token, at=after, gate=GATE).reason is Reason.BAD_SIGNATURE
    # Denied and stale code: denied comes first.
    assert verifier.verify(
        phone.token_at(NOW), at=NOW + timedelta(minutes=5), gate=GATE
    ).reason is (Reason.DENIED)


def test_naive_time_is_a_programming_error(verifier: Verifier, token: str) -> None:
    with pytest.raises(NaiveTimeError):
        verifier.verify(token, at=datetime(2025, 6, 1, 8, 30), gate=GATE)
