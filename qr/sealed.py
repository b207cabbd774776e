"""Liveness keys sealed to one gate: how the backend gets liveness master keys into a gate's
secure module without ever sending them in clear (docs/TOKEN-SPEC.md §9).

At enrolment the gate's secure module makes an X25519 key pair and the backend keeps its
public half. The liveness key set is sealed to it with HPKE (RFC 9180), base mode, single
shot, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305 (`cryptography`'s
`hpke.Suite`), with

    info      = "faregate-liveness-keys/1" || 0x00 || UTF-8 device id
    aad       = empty
    plaintext = {"format": "faregate-device-liveness-keys/1", "device_id": ..., "issued_at":
                 ..., "keys": [{"kid", "master" (hex), "period", "not_before", "not_after"}]}
                 as compact JSON, UTF-8

so only the secure module holding that device's private key opens it, and the `info` binds
the box to the device id too. `enc` (32 bytes) and the ciphertext travel separately. Keys in
force now and those coming into force within the horizon are sent, so a rotation reaches
gates before its first credentials do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from qr.keys import KeySet, LivenessKeyInfo
from qr.liveness import LivenessMaster
from qr.timeutil import isoformat_z, require_aware

SEALED_FORMAT = "faregate-sealed-liveness-keys/1"
PLAINTEXT_FORMAT = "faregate-device-liveness-keys/1"
INFO_LABEL = b"faregate-liveness-keys/1"
SUITE_NAME = "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305"
ENC_BYTES = 32
DEFAULT_HORIZON = timedelta(days=7)
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)


def hpke_info(device_id: str) -> bytes:
    return INFO_LABEL + b"\x00" + device_id.encode()


@dataclass(frozen=True, slots=True)
class DeviceLivenessKey:
    """A liveness master as a gate holds it: with its key id, period and window."""

    info: LivenessKeyInfo
    master: LivenessMaster


def keys_for_device(
    keyset: KeySet,
    masters: Mapping[int, LivenessMaster],
    at: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
) -> tuple[DeviceLivenessKey, ...]:
    """The liveness keys a gate needs at `at`: in force, or coming into force within
    `horizon`; by key id. A key the key set names without a master is left out."""
    require_aware(at, "time")
    return tuple(
        DeviceLivenessKey(info, masters[info.kid])
        for info in sorted(keyset.liveness_keys, key=lambda k: k.kid)
        if info.not_after > at and info.not_before <= at + horizon and info.kid in masters
    )


def plaintext(device_id: str, keys: tuple[DeviceLivenessKey, ...], issued_at: datetime) -> bytes:
    """The sealed document's plaintext: compact JSON, keys by id."""
    document = {
        "format": PLAINTEXT_FORMAT,
        "device_id": device_id,
        "issued_at": isoformat_z(issued_at),
        "keys": [
            {
                "kid": key.info.kid,
                "master": key.master.master.hex(),
                "period": key.master.period,
                "not_before": isoformat_z(key.info.not_before),
                "not_after": isoformat_z(key.info.not_after),
            }
            for key in keys
        ],
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def key_set_version(keys: tuple[DeviceLivenessKey, ...]) -> str:
    """Names a liveness key set (16 hex of a SHA-256 over the keys, masters included): a gate
    that reports it holds this version holds exactly these keys."""
    text = "\n".join(
        f"{k.info.kid}:{k.master.period}:{isoformat_z(k.info.not_before)}:"
        f"{isoformat_z(k.info.not_after)}:{hashlib.sha256(k.master.master).hexdigest()}"
        for k in keys
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedLivenessKeys:
    """The box for one device: HPKE's `enc` and ciphertext, and what may be said in clear."""

    device_id: str
    version: str
    key_ids: tuple[int, ...]
    issued_at: datetime
    enc: bytes
    ciphertext: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SEALED_FORMAT,
            "device_id": self.device_id,
            "version": self.version,
            "key_ids": list(self.key_ids),
            "issued_at": isoformat_z(self.issued_at),
            "suite": SUITE_NAME,
            "enc": self.enc.hex(),
            "ciphertext": self.ciphertext.hex(),
        }


def seal_liveness_keys(
    device_id: str,
    recipient: bytes,
    keys: tuple[DeviceLivenessKey, ...],
    issued_at: datetime,
) -> SealedLivenessKeys:
    """Seal `keys` to the device's X25519 public key `recipient` (a fresh ephemeral key per
    call, so two boxes of the same keys differ)."""
    sealed = SUITE.encrypt(
        plaintext(device_id, keys, issued_at),
        X25519PublicKey.from_public_bytes(recipient),
        info=hpke_info(device_id),
    )
    return SealedLivenessKeys(
        device_id=device_id,
        version=key_set_version(keys),
        key_ids=tuple(key.info.kid for key in keys),
        issued_at=issued_at,
        enc=sealed[:ENC_BYTES],
        ciphertext=sealed[ENC_BYTES:],
    )
