"""TOTP liveness: per-credential seeds, codes, and the secure module gates check codes through.

The phone computes codes with `pyotp` (`phone_totp`); gates compute them here with the same
RFC 6238 arithmetic written out (HMAC-SHA1, dynamic truncation, 8 digits), because the gate
needs the step a code belongs to (pyotp's `verify()` hides it and accepts a code twice) and
pyotp re-decodes a base32 secret and converts times on every call. The tests check both
against RFC 6238 Appendix B and against each other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import pyotp

from qr.errors import PolicyError

DIGITS = 8
DEFAULT_PERIOD = 15
MAX_PERIOD = 120  # pyotp's TOTP refuses longer periods, so no key may promise one
_MODULUS = 10**DIGITS


@dataclass(frozen=True, slots=True)
class TotpWindow:
    """How many steps before and after the gate's current step a code may belong to."""

    before: int = 1
    after: int = 1

    def __post_init__(self) -> None:
        if self.before < 0 or self.after < 0:
            raise PolicyError("TOTP window sizes cannot be negative")


def derive_seed(master: bytes, credential_id: int) -> bytes:
    """seed = HMAC-SHA256(liveness master, credential id as 8 bytes big-endian)."""
    return hmac.digest(master, credential_id.to_bytes(8, "big"), "sha256")


def seed_to_base32(seed: bytes) -> str:
    return base64.b32encode(seed).decode("ascii")


def phone_totp(seed: bytes, period: int = DEFAULT_PERIOD) -> pyotp.TOTP:
    """The phone's code generator: pyotp TOTP, SHA-1, 8 digits, `period` seconds."""
    return pyotp.TOTP(seed_to_base32(seed), digits=DIGITS, digest=hashlib.sha1, interval=period)


def totp_code(seed: bytes, step: int) -> str:
    """The 8-digit RFC 6238 code of `seed` for time step `step`."""
    digest = hmac.digest(seed, step.to_bytes(8, "big"), "sha1")
    offset = digest[19] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % _MODULUS:08d}"


class SecureModule(Protocol):
    """What a gate may ask of the module holding liveness master keys (a SAM, in transit terms).

    It answers "which step does this code belong to", nothing more: no seed, no master key
    leaves it. A stolen module lets a thief refresh codes of credentials already copied (their
    ids are public), never sign a new credential.
    """

    def knows(self, liveness_kid: int) -> bool:
        """Whether the module holds the master key `liveness_kid`."""
        ...

    def matches(
        self, credential_id: int, liveness_kid: int, code: str, at: float, window: TotpWindow
    ) -> int | None:
        """The TOTP step within `window` of the Unix time `at` whose code is `code`, else None."""
        ...


@dataclass(frozen=True, slots=True)
class LivenessMaster:
    """One liveness master key and the TOTP period of credentials that name it."""

    master: bytes
    period: int = DEFAULT_PERIOD


class SoftwareSecureModule:
    """A secure module in software: the simulators' and the CLI's stand-in for a SAM."""

    __slots__ = ("_keyed",)

    def __init__(self, masters: Mapping[int, LivenessMaster]) -> None:
        # HMAC keyed once per master: copying it skips the key setup on every token.
        self._keyed = {
            kid: (hmac.new(m.master, digestmod=hashlib.sha256), m.period)
            for kid, m in masters.items()
        }

    def knows(self, liveness_kid: int) -> bool:
        return liveness_kid in self._keyed

    def matches(
        self, credential_id: int, liveness_kid: int, code: str, at: float, window: TotpWindow
    ) -> int | None:
        entry = self._keyed.get(liveness_kid)
        if entry is None:
            return None
        keyed, period = entry
        derive = keyed.copy()
        derive.update(credential_id.to_bytes(8, "big"))
        seed = derive.digest()
        current = int(at // period)
        # Most codes are from the current step, so it is tried first.
        if current >= 0 and hmac.compare_digest(totp_code(seed, current), code):
            return current
        # Steps count from the Unix epoch: near 1970 the window has no earlier steps.
        for step in range(max(0, current - window.before), current + window.after + 1):
            if step != current and hmac.compare_digest(totp_code(seed, step), code):
                return step
        return None
