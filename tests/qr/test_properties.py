"""Properties: no input raises or is accepted; any one-character change is refused; no replay."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qr.base45 import ALPHABET
from qr.decision import Reason
from qr.issue import PhoneCredential
from qr.memory import GateMemory
from qr.token import PREFIX, TOKEN_LENGTH
from qr.verifier import Verifier
from tests.helpers.qr import GATE, NOW

FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
TOKENISH = st.text(
    alphabet=ALPHABET + "0123456789", min_size=TOKEN_LENGTH - 3, max_size=TOKEN_LENGTH - 3
)


@FIXTURES
@given(
    data=st.one_of(
        st.binary(max_size=400), st.text(max_size=400), TOKENISH.map(lambda t: PREFIX + t)
    )
)
def test_no_input_raises_or_is_accepted(verifier: Verifier, data: str | bytes) -> None:
    d = verifier.verify(data, at=NOW, gate=GATE, memory=GateMemory())
    assert not d.accepted
    assert d.reason is not Reason.ACCEPTED


@FIXTURES
@given(data=st.binary(min_size=TOKEN_LENGTH, max_size=TOKEN_LENGTH))
def test_token_length_bytes_are_refused(verifier: Verifier, data: bytes) -> None:
    assert not verifier.verify(data, at=NOW, gate=GATE).accepted


@FIXTURES
@given(index=st.integers(0, TOKEN_LENGTH - 1), char=st.characters(codec="utf-8"))
def test_any_single_character_change_is_refused(
    verifier: Verifier, token: str, index: int, char: str
) -> None:
    if token[index] == char:
        char = "0" if char != "0" else "1"
    changed = token[:index] + char + token[index + 1 :]
    d = verifier.verify(changed, at=NOW, gate=GATE, memory=GateMemory())
    assert not d.accepted


def test_every_alphabet_preserving_change_is_refused(verifier: Verifier, token: str) -> None:
    # Exhaustive over positions and characters: these changes get past the parser and reach
    # the key, signature and code checks.
    for index in range(TOKEN_LENGTH):
        pool = "0123456789" if index >= TOKEN_LENGTH - 8 else ALPHABET
        for char in pool.replace(token[index], ""):
            changed = token[:index] + char + token[index + 1 :]
            assert not verifier.verify(changed, at=NOW, gate=GATE, memory=GateMemory()).accepted


@FIXTURES
@given(seconds=st.integers(0, 14), later=st.integers(0, 44))
def test_same_code_twice_at_one_gate_refused_second_time(
    verifier: Verifier, phone: PhoneCredential, seconds: int, later: int
) -> None:
    at = NOW - timedelta(seconds=NOW.second % 15) + timedelta(seconds=seconds)
    token = phone.token_at(at)
    memory = GateMemory()
    first = verifier.verify(token, at=at, gate=GATE, memory=memory)
    second = verifier.verify(token, at=at + timedelta(seconds=later), gate=GATE, memory=memory)
    assert first.accepted
    assert not second.accepted
    assert second.reason in {Reason.REPLAYED, Reason.STALE_CODE}
