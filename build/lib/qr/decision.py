"""The verifier's answer: a reason code and what the gate knew when it decided."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from qr.credential import CATEGORY_NAMES, CredentialFields


class Reason(enum.StrEnum):
    """Why a token was accepted or refused, in the order the verifier checks.

    `docs/TOKEN-SPEC.md` explains each; the values are stable wire strings.
    """

    ACCEPTED = "accepted"
    MALFORMED = "malformed"  # not a token: length, prefix, alphabet, layout, or no QR in the image
    UNKNOWN_KEY = "unknown_key"  # key id not in the key set, or the key is not in force now
    BAD_SIGNATURE = "bad_signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    DENIED = "denied"  # on the deny list
    DENY_LIST_STALE = "deny_list_stale"  # list older than allowed and the policy is to refuse
    STALE_CODE = "stale_code"  # TOTP digits match no step inside the window
    REPLAYED = "replayed"  # this step (or an older one) was already used here
    PASSBACK = "passback"  # a fresh code, but the credential passed here moments ago
    NOT_ENTITLED = "not_entitled"  # the product is not valid at this gate


@dataclass(frozen=True, slots=True)
class Decision:
    """What the gate decided and what it knew: the credential's fields once the token parsed."""

    accepted: bool
    reason: Reason
    detail: str = ""
    credential: CredentialFields | None = None  # None when the token did not parse
    step: int | None = None  # the TOTP step the code belongs to
    step_offset: int | None = None  # that step minus the gate's current step
    gate_id: str | None = None
    deny_list_version: int | None = None
    deny_list_stale: bool = False  # decided with a list older than the policy allows

    @property
    def credential_id(self) -> int | None:
        return None if self.credential is None else self.credential.credential_id

    @property
    def issuer_kid(self) -> int | None:
        return None if self.credential is None else self.credential.issuer_kid

    @property
    def liveness_kid(self) -> int | None:
        return None if self.credential is None else self.credential.liveness_kid

    @property
    def product(self) -> str | None:
        return None if self.credential is None else self.credential.product

    @property
    def category(self) -> str | None:
        return None if self.credential is None else CATEGORY_NAMES[self.credential.category]

    @property
    def flags(self) -> int | None:
        return None if self.credential is None else self.credential.flags

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "reason": self.reason.value,
            "detail": self.detail,
            "credential_id": self.credential_id,
            "issuer_kid": self.issuer_kid,
            "liveness_kid": self.liveness_kid,
            "product": self.product,
            "category": self.category,
            "flags": self.flags,
            "step": self.step,
            "step_offset": self.step_offset,
            "gate_id": self.gate_id,
            "deny_list_version": self.deny_list_version,
            "deny_list_stale": self.deny_list_stale,
        }
