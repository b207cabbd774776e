"""Issuing credentials and the phone's credential file (signed credential plus its own seed).

The phone never sees a master key: it gets the signed credential and the seed derived for that
one credential, and from them builds a fresh token every period with `pyotp`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from qr.credential import (
    CREDENTIAL_LENGTH,
    SIGNED_LENGTH,
    Credential,
    CredentialFlags,
    RiderCategory,
    unpack_credential,
)
from qr.errors import CredentialError
from qr.jsonfile import read_json, write_json
from qr.keys import KeyMaterial
from qr.liveness import DIGITS, MAX_PERIOD, derive_seed, phone_totp, seed_to_base32
from qr.timeutil import isoformat_z, require_aware, to_minutes
from qr.token import build_token

PHONE_FORMAT = "faregate-credential/1"
DEFAULT_VALIDITY = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class PhoneCredential:
    """What the phone stores: the signed credential, its TOTP seed and period."""

    signed: bytes
    seed: bytes
    period: int

    @property
    def credential(self) -> Credential:
        credential = unpack_credential(self.signed[:CREDENTIAL_LENGTH])
        if credential is None:  # only reachable for a hand-edited file; from_json checks it
            raise CredentialError("credential bytes are malformed")
        return credential

    def code_at(self, at: datetime) -> str:
        return str(phone_totp(self.seed, self.period).at(require_aware(at)))

    def token_at(self, at: datetime) -> str:
        """The token text valid at `at`: what the QR code shows during that period."""
        return build_token(self.signed, self.code_at(at))

    def to_json(self) -> dict[str, Any]:
        c = self.credential
        return {
            "format": PHONE_FORMAT,
            "credential": base64.b64encode(self.signed).decode("ascii"),
            "seed": seed_to_base32(self.seed),
            "period": self.period,
            "digits": DIGITS,
            # Readable copies of what the signed bytes say; the bytes are what counts.
            "credential_id": c.credential_id,
            "product": c.product,
            "category": c.category.name.lower(),
            "valid_from": isoformat_z(c.valid_from),
            "valid_until": isoformat_z(c.valid_until),
        }

    @classmethod
    def from_json(cls, doc: object) -> PhoneCredential:
        if not isinstance(doc, dict) or doc.get("format") != PHONE_FORMAT:
            raise CredentialError(f"not a credential file (expected format {PHONE_FORMAT!r})")
        try:
            signed = base64.b64decode(doc["credential"], validate=True)
            seed = base64.b32decode(doc["seed"])
            period = doc["period"]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise CredentialError(f"malformed credential file: {exc}") from exc
        if len(signed) != SIGNED_LENGTH or unpack_credential(signed[:CREDENTIAL_LENGTH]) is None:
            raise CredentialError("credential file holds a malformed credential")
        if (
            not isinstance(period, int)
            or isinstance(period, bool)
            or not 1 <= period <= MAX_PERIOD
            or not seed
        ):
            raise CredentialError("credential file has a bad seed or period")
        return cls(signed, seed, period)

    def save(self, path: Path) -> None:
        # 0600: the seed lets anyone produce live codes for this credential.
        write_json(path, self.to_json(), 0o600, CredentialError)

    @classmethod
    def load(cls, path: Path) -> PhoneCredential:
        return cls.from_json(read_json(path, CredentialError))


def issue_credential(
    keys: KeyMaterial,
    *,
    credential_id: int,
    product: str,
    now: datetime,
    category: RiderCategory = RiderCategory.ADULT,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    flags: CredentialFlags = CredentialFlags.NONE,
) -> PhoneCredential:
    """Sign a credential with the newest keys in force at `now` and derive its seed.

    Times are cut to whole minutes. Without `valid_until` the credential lasts
    DEFAULT_VALIDITY, shortened to the keys' end; an explicit end past the keys' end is an
    error, since gates would stop accepting the credential before it expires.
    """
    require_aware(now, "issue time")
    issuer = keys.keyset.newest_issuer(now)
    liveness = keys.keyset.newest_liveness(now)
    start = require_aware(valid_from, "valid-from") if valid_from is not None else now
    keys_end = min(issuer.not_after, liveness.not_after)
    if valid_until is None:
        end = min(start + DEFAULT_VALIDITY, keys_end)
    else:
        end = require_aware(valid_until, "valid-until")
        if end > keys_end:
            raise CredentialError(
                f"valid-until {isoformat_z(end)} is after the keys' end {isoformat_z(keys_end)}"
            )
    private = keys.issuer_private.get(issuer.kid)
    master = keys.liveness_masters.get(liveness.kid)
    if private is None or master is None:
        raise CredentialError("the key directory lacks the private half of its newest keys")
    credential = Credential(
        issuer_kid=issuer.kid,
        liveness_kid=liveness.kid,
        credential_id=credential_id,
        product=product,
        category=category,
        valid_from_minute=to_minutes(start),
        valid_until_minute=to_minutes(end),
        flags=flags,
    )
    return PhoneCredential(
        credential.sign(private), derive_seed(master.master, credential_id), master.period
    )
