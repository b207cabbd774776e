"""The static credential: its fields, its 29-byte layout and its Ed25519 signature.

Layout (big-endian, `docs/TOKEN-SPEC.md` is the reference):

    off size field
      0    1 format version (1)
      1    1 issuer key id (1..255)
      2    1 liveness key id (1..255)
      3    8 credential id (unsigned 64-bit)
     11    8 product code: 1..8 characters of A-Z 0-9 '-' '_', left-aligned, NUL-padded
     19    1 rider category (RiderCategory)
     20    4 valid from, minutes since the Unix epoch (inclusive)
     24    4 valid until, minutes since the Unix epoch (exclusive)
     28    1 flags (CredentialFlags; unknown bits are malformed)

Every credential has the same length, so the largest credential is every credential.
"""

from __future__ import annotations

import enum
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from qr.errors import CredentialError
from qr.timeutil import from_minutes

FORMAT_VERSION = 1
LAYOUT = struct.Struct(">BBBQ8sBIIB")
CREDENTIAL_LENGTH = LAYOUT.size
SIGNATURE_LENGTH = 64
SIGNED_LENGTH = CREDENTIAL_LENGTH + SIGNATURE_LENGTH
MAX_KEY_ID = 0xFF
MAX_CREDENTIAL_ID = 2**64 - 1
MAX_MINUTES = 2**32 - 1
PRODUCT_CODE = re.compile(r"[A-Z0-9_-]{1,8}")


class RiderCategory(enum.IntEnum):
    """Who rides: fares and passes differ by category (Hanoi: students, priority, free riders)."""

    ADULT = 0
    CHILD = 1
    STUDENT = 2
    SENIOR = 3
    DISABLED = 4
    PRIORITY = 5
    STAFF = 6

    @classmethod
    def from_code(cls, code: str) -> RiderCategory:
        try:
            return cls[code.strip().upper()]
        except KeyError:
            names = ", ".join(c.name.lower() for c in cls)
            raise CredentialError(f"unknown rider category {code!r} (one of: {names})") from None


class CredentialFlags(enum.IntFlag):
    """Bits the backend sets on a credential; gates pass them on in the decision."""

    NONE = 0
    POSTPAID = 0x01  # rides are charged once a day to a card, not drawn from a wallet
    TEST = 0x02  # issued for testing and demos


KNOWN_FLAGS = int(CredentialFlags.POSTPAID | CredentialFlags.TEST)


@dataclass(frozen=True, slots=True)
class Credential:
    """What the issuer signs. Times are whole minutes since the Unix epoch (UTC)."""

    issuer_kid: int
    liveness_kid: int
    credential_id: int
    product: str
    category: RiderCategory
    valid_from_minute: int
    valid_until_minute: int
    flags: CredentialFlags = CredentialFlags.NONE
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise CredentialError(problem)

    def _problem(self) -> str | None:
        if self.version != FORMAT_VERSION:
            return f"unsupported credential version {self.version}"
        for name, kid in (("issuer", self.issuer_kid), ("liveness", self.liveness_kid)):
            if not 1 <= kid <= MAX_KEY_ID:
                return f"{name} key id {kid} outside 1..{MAX_KEY_ID}"
        if not 0 <= self.credential_id <= MAX_CREDENTIAL_ID:
            return f"credential id {self.credential_id} is not an unsigned 64-bit number"
        if not PRODUCT_CODE.fullmatch(self.product):
            return f"product code {self.product!r}: 1 to 8 characters of A-Z 0-9 - _"
        if not 0 <= self.valid_from_minute < self.valid_until_minute <= MAX_MINUTES:
            return "validity must start before it ends, within the 32-bit minute range"
        if int(self.flags) & ~KNOWN_FLAGS:
            return f"unknown credential flags {int(self.flags):#04x}"
        return None

    @property
    def valid_from(self) -> datetime:
        return from_minutes(self.valid_from_minute)

    @property
    def valid_until(self) -> datetime:
        return from_minutes(self.valid_until_minute)

    def pack(self) -> bytes:
        return LAYOUT.pack(
            self.version,
            self.issuer_kid,
            self.liveness_kid,
            self.credential_id,
            self.product.encode("ascii").ljust(8, b"\0"),
            int(self.category),
            self.valid_from_minute,
            self.valid_until_minute,
            int(self.flags),
        )

    def sign(self, issuer_key: Ed25519PrivateKey) -> bytes:
        """The credential bytes followed by the issuer's 64-byte signature over them."""
        body = self.pack()
        return body + issuer_key.sign(body)


class CredentialFields(NamedTuple):
    """The fields of well-formed credential bytes, as plain numbers and text.

    What the verifier works with: building enum members and a validated Credential per token
    would cost a noticeable share of an Ed25519 verification.
    """

    issuer_kid: int
    liveness_kid: int
    credential_id: int
    product: str
    category: int
    valid_from_minute: int
    valid_until_minute: int
    flags: int

    def credential(self) -> Credential:
        return Credential(
            issuer_kid=self.issuer_kid,
            liveness_kid=self.liveness_kid,
            credential_id=self.credential_id,
            product=self.product,
            category=RiderCategory(self.category),
            valid_from_minute=self.valid_from_minute,
            valid_until_minute=self.valid_until_minute,
            flags=CredentialFlags(self.flags),
        )


_PRODUCT_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
_UNPACK = LAYOUT.unpack
CATEGORY_NAMES: tuple[str, ...] = tuple(c.name.lower() for c in sorted(RiderCategory))


def unpack_fields(body: bytes) -> CredentialFields | None:
    """Strictly parse credential bytes; None for anything Credential would not accept."""
    if len(body) != CREDENTIAL_LENGTH:
        return None
    version, issuer_kid, liveness_kid, cid, product_raw, category, start, end, flags = _UNPACK(body)
    product = product_raw.rstrip(b"\0")
    if (
        version != FORMAT_VERSION
        or not issuer_kid
        or not liveness_kid
        or category >= len(CATEGORY_NAMES)
        or flags & ~KNOWN_FLAGS
        or not start < end
        or not product
        or product.translate(None, _PRODUCT_CHARS)
    ):
        return None
    return CredentialFields(
        issuer_kid, liveness_kid, cid, product.decode("ascii"), category, start, end, flags
    )


def unpack_credential(body: bytes) -> Credential | None:
    fields = unpack_fields(body)
    return None if fields is None else fields.credential()
