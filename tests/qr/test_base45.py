"""Our strict base45 decoder agrees with the `base45` package and refuses what it refuses."""

from __future__ import annotations

import base45 as reference
from hypothesis import given
from hypothesis import strategies as st

from qr.base45 import ALPHABET, b45decode, b45encode, encoded_length


@given(st.binary(max_size=120))
def test_round_trip_and_agreement_with_reference(data: bytes) -> None:
    text = b45encode(data)
    assert text == reference.b45encode(data).decode()
    assert len(text) == encoded_length(len(data))
    assert b45decode(text) == data


@given(st.text(alphabet=ALPHABET + "abc~é\0", max_size=40))
def test_decoder_accepts_exactly_what_the_reference_accepts(text: str) -> None:
    try:
        expected: bytes | None = reference.b45decode(text)
    except (ValueError, UnicodeError):
        expected = None
    assert b45decode(text) == expected


def test_refuses_overlong_triples_and_stray_characters() -> None:
    assert b45decode("FGW") == b"\xff\xff"
    assert b45decode("GGW") is None  # 65536
    assert b45decode("U5") == b"\xff"
    assert b45decode("V5") is None  # 256 in a trailing pair
    assert b45decode("A") is None
    assert b45decode("aaa") is None
    assert b45decode("ÄÄÄ") is None
