"""Dynamic QR credentials: signed credentials, TOTP liveness, token text, offline verifier.

The public API; `docs/TOKEN-SPEC.md` is the wire reference.
"""

from qr.credential import Credential, CredentialFlags, RiderCategory
from qr.decision import Decision, Reason
from qr.denylist import DenyList, DenyListDelta
from qr.errors import QRError
from qr.issue import PhoneCredential, issue_credential
from qr.keys import (
    KeyMaterial,
    KeySet,
    init_keys,
    load_keys,
    load_keyset,
    load_secure_module,
    rotate_keys,
)
from qr.liveness import SecureModule, SoftwareSecureModule, TotpWindow
from qr.memory import GateMemory, GateStateFile
from qr.token import parse_token
from qr.verifier import GateContext, StaleDenyListAction, Verifier, VerifierPolicy

__all__ = [
    "Credential",
    "CredentialFlags",
    "Decision",
    "DenyList",
    "DenyListDelta",
    "GateContext",
    "GateMemory",
    "GateStateFile",
    "KeyMaterial",
    "KeySet",
    "PhoneCredential",
    "QRError",
    "Reason",
    "RiderCategory",
    "SecureModule",
    "SoftwareSecureModule",
    "StaleDenyListAction",
    "TotpWindow",
    "Verifier",
    "VerifierPolicy",
    "init_keys",
    "issue_credential",
    "load_keys",
    "load_keyset",
    "load_secure_module",
    "parse_token",
    "rotate_keys",
]
