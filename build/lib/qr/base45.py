"""Strict, fast base45 (RFC 9285) for the token's signed part.

Encoding uses the `base45` package. Decoding is ours because it sits on the gate's hot path:
the package decodes one character at a time in Python, which alone costs about a sixth of an
Ed25519 verification. Here the whole string is mapped to digit values with `bytes.translate`
and the triples are summed with big-integer arithmetic, so the work per token is a handful of
C-level operations. It is strict: any character outside the alphabet, a triple above 65535 or a
trailing pair above 255 is refused, so every byte string has exactly one accepted text.
"""

from __future__ import annotations

import functools

import base45 as _base45

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF
_DIGITS = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else _INVALID for c in range(256))


def b45encode(data: bytes) -> str:
    return str(_base45.b45encode(data).decode("ascii"))


def encoded_length(byte_count: int) -> int:
    return (byte_count // 2) * 3 + (byte_count % 2) * 2


@functools.lru_cache(maxsize=8)
def _low_byte_mask(words: int) -> int:
    """An integer whose 24-bit words are each 0x0000FF."""
    return int.from_bytes(b"\0\0\xff" * words, "big")


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
        mask = _low_byte_mask(triples)
        # Each triple (c0, c1, c2) is one 24-bit word of `packed`; masking picks one digit of
        # every triple at once, so the whole sum c0 + 45*c1 + 2025*c2 is three big-int terms.
        packed = int.from_bytes(digits[:end], "big")
        total = (packed >> 16 & mask) + 45 * (packed >> 8 & mask) + 2025 * (packed & mask)
        words = total.to_bytes(end, "big")
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
