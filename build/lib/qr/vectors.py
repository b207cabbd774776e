"""Published test vectors: fixed keys, credentials, times, token texts and expected decisions.

`python -m qr.vectors > docs/token-vectors.json` regenerates the file that `docs/TOKEN-SPEC.md`
describes; a test checks the file against this code, so the two cannot drift apart.
Every key is derived from a fixed label with SHA-256, so another implementation can rebuild
them from the spec alone. Ed25519 signatures are deterministic (RFC 8032), so are the tokens.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from qr.credential import CREDENTIAL_LENGTH, CredentialFlags, RiderCategory
from qr.decision import Decision
from qr.denylist import DenyList
from qr.issue import issue_credential
from qr.keys import EMPTY, KeyMaterial, public_bytes
from qr.liveness import derive_seed, totp_code
from qr.memory import GateMemory
from qr.timeutil import isoformat_z, parse_instant
from qr.verifier import GateContext, Verifier

KEYS_FROM = datetime(2025, 1, 1, tzinfo=UTC)
KEY_LIFETIME = timedelta(days=730)
ROTATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = 15
DENIED_ID = 4242


def fixed_bytes(label: str) -> bytes:
    return hashlib.sha256(label.encode("ascii")).digest()


def fixed_key_material(rotated: bool = True) -> KeyMaterial:
    """Key 1 of each kind from 2025-01-01 for two years; key 2 added on 2026-01-01."""
    material = EMPTY.rotated(
        KEYS_FROM,
        KEY_LIFETIME,
        PERIOD,
        issuer_key=Ed25519PrivateKey.from_private_bytes(fixed_bytes("faregate vector issuer 1")),
        liveness_master=fixed_bytes("faregate vector liveness 1"),
    )
    if not rotated:
        return material
    return material.rotated(
        ROTATED_AT,
        KEY_LIFETIME,
        PERIOD,
        issuer_key=Ed25519PrivateKey.from_private_bytes(fixed_bytes("faregate vector issuer 2")),
        liveness_master=fixed_bytes("faregate vector liveness 2"),
    )


_CREDENTIALS: list[dict[str, Any]] = [
    {
        "name": "metro day pass, adult, key 1",
        "issued_at": "2025-06-01T07:00:00Z",
        "credential_id": 1,
        "product": "M2A-DAY",
        "category": RiderCategory.ADULT,
        "valid_from": "2025-06-01T07:00:00Z",
        "valid_until": "2025-06-02T04:00:00Z",
        "flags": CredentialFlags.NONE,
        "at": "2025-06-01T08:30:07Z",
    },
    {
        "name": "largest fields: max id, 8-char product, postpaid+test, key 2",
        "issued_at": "2026-02-01T00:00:00Z",
        "credential_id": 2**64 - 1,
        "product": "PARK-LOT",
        "category": RiderCategory.STAFF,
        "valid_from": "2026-02-01T00:00:00Z",
        "valid_until": "2026-12-31T23:59:00Z",
        "flags": CredentialFlags.POSTPAID | CredentialFlags.TEST,
        "at": "2026-03-15T17:45:59Z",
    },
    {
        "name": "student monthly bus pass (on the deny list)",
        "issued_at": "2025-06-01T07:00:00Z",
        "credential_id": DENIED_ID,
        "product": "BUS-MON",
        "category": RiderCategory.STUDENT,
        "valid_from": "2025-06-01T00:00:00Z",
        "valid_until": "2025-07-01T00:00:00Z",
        "flags": CredentialFlags.NONE,
        "at": "2025-06-10T12:00:00Z",
    },
]


def _swap_char(token: str, index: int) -> str:
    replacement = "0" if token[index] != "0" else "1"
    return token[:index] + replacement + token[index + 1 :]


def generate() -> dict[str, Any]:
    material = fixed_key_material()
    verifier = Verifier(
        material.keyset, material.secure_module(), deny_list=DenyList(7, frozenset({DENIED_ID}))
    )
    gate = GateContext("VECTOR-GATE")

    def decide(token: str, at: datetime, memory: GateMemory | None = None) -> dict[str, Any]:
        d: Decision = verifier.verify(
            token, at=at, gate=gate, memory=GateMemory() if memory is None else memory
        )
        return {"at": isoformat_z(at), "accepted": d.accepted, "reason": d.reason.value}

    credentials = []
    for spec in _CREDENTIALS:
        phone = issue_credential(
            material,
            credential_id=spec["credential_id"],
            product=spec["product"],
            category=spec["category"],
            valid_from=parse_instant(spec["valid_from"]),
            valid_until=parse_instant(spec["valid_until"]),
            flags=spec["flags"],
            now=parse_instant(spec["issued_at"]),
        )
        c = phone.credential
        at = parse_instant(spec["at"])
        step = int(at.timestamp()) // phone.period
        token = phone.token_at(at)
        master = material.liveness_masters[c.liveness_kid].master
        assert derive_seed(master, c.credential_id) == phone.seed
        assert totp_code(phone.seed, step) == token[-8:]
        memory = GateMemory()
        decisions = [
            decide(token, at, memory),
            {**decide(token, at, memory), "note": "same code again at the same gate"},
            {**decide(token, at + timedelta(seconds=PERIOD * 2)), "note": "two periods later"},
            {**decide(_swap_char(token, 10), at), "note": "character 10 changed"},
            {**decide(token, c.valid_until), "note": "at valid_until"},
        ]
        credentials.append(
            {
                "name": spec["name"],
                "fields": {
                    "version": c.version,
                    "issuer_kid": c.issuer_kid,
                    "liveness_kid": c.liveness_kid,
                    "credential_id": c.credential_id,
                    "product": c.product,
                    "category": int(c.category),
                    "valid_from_minute": c.valid_from_minute,
                    "valid_until_minute": c.valid_until_minute,
                    "flags": int(c.flags),
                },
                "credential_hex": c.pack().hex(),
                "signature_hex": phone.signed[CREDENTIAL_LENGTH:].hex(),
                "seed_hex": phone.seed.hex(),
                "at": isoformat_z(at),
                "step": step,
                "code": token[-8:],
                "token": token,
                "decisions": decisions,
            }
        )
    return {
        "format": "faregate-token-vectors/1",
        "keys": {
            "issuer": [
                {
                    "kid": kid,
                    "private_seed_hex": key.private_bytes_raw().hex(),
                    "private_seed_label": f"faregate vector issuer {kid}",
                    "public_key_hex": public_bytes(key).hex(),
                }
                for kid, key in sorted(material.issuer_private.items())
            ],
            "liveness": [
                {
                    "kid": kid,
                    "master_hex": m.master.hex(),
                    "master_label": f"faregate vector liveness {kid}",
                    "period": m.period,
                }
                for kid, m in sorted(material.liveness_masters.items())
            ],
            "keyset": material.keyset.to_json(),
        },
        "deny_list": {"version": 7, "ids": [DENIED_ID]},
        "credentials": credentials,
    }


def render() -> str:
    return json.dumps(generate(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
