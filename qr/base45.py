"""Strict, fast base45 (RFC 9285) for the token's signed part.

Encoding uses the `base45` package. Decoding is ours because it sits on the gate's hot path:
the package decodes one character at a time in Python, which alone costs about a sixth of an
Ed25519 verification. Here the whole string is mapped to digit values with `bytes.translate`
and the triples are summed as three big integers, so the work per token is a handful of
C-level operations. It is strict: any character outside the alphabet, a triple above 65535 or a
trailing pair above 255 is refused, so every byte string has exactly one accepted text.
"""

from __future__ import annotations

import base45 as _base45

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF
_DIGITS = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else _INVALID for c in range(256))


def b45encode(data: bytes) -> str:
    return str(_base45.b45encode(data).decode("ascii"))


def encoded_length(byte_count: int) -> int:
    return (byte_count // 2) * 3 + (byte_count % 2) * 2


def _as_24bit_words(values: bytes) -> int:
    """The values as one integer of 24-bit big-endian words: wide enough that sums never carry."""
    words = bytearray(3 * len(values))
    words[2::3] = values
    return int.from_bytes(words, "big")


def b45decode(text: str) -> bytes | None:
    """Decode `text`, or None when it is not canonical base45."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    digits = raw.translate(_DIGITS)
    if _INVALID in digits:
        return None
    triples, rest = divmod(len(digits), 3)
    if rest == 1:
        return None
    out = bytearray()
    if triples:
        end = triples * 3
        total = (
            _as_24bit_words(digits[0:end:3])
            + 45 * _as_24bit_words(digits[1:end:3])
            + 2025 * _as_24bit_words(digits[2:end:3])
        )
        words = total.to_bytes(3 * triples, "big")
        if words[0::3].count(0) != triples:  # a triple above 65535
            return None
        out = bytearray(2 * triples)
        out[0::2] = words[1::3]
        out[1::2] = words[2::3]
    if rest == 2:
        last = digits[-2] + 45 * digits[-1]
        if last > 0xFF:
            return None
        out.append(last)
    return bytes(out)
