"""Worked examples of the device protocol with every byte shown, for device makers to check
their own code against: an enrolment, signed requests, and liveness keys sealed to a device.

`python -m simulators.device_vectors` prints the Markdown blocks that docs/DEVICE-API.md and
docs/TOKEN-SPEC.md §9 carry between their `<!-- device-vectors:NAME -->` markers; a test checks
that the documents hold exactly what this code renders, that the server verifies the signed
requests, and that the sealed box opens with an independent RFC 9180 implementation
(`cryptography`'s) and with no other device's key.

Every key is the SHA-256 of a label, as in the token vectors (qr/vectors.py). HPKE normally
draws a fresh ephemeral key per seal; to be reproducible the example fixes it and runs the
RFC 9180 base-mode key schedule written out below (what `cryptography`'s `hpke.Suite` does
inside with a random ephemeral key).
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qr.sealed import SUITE_NAME, hpke_info, keys_for_device, plaintext
from qr.timeutil import isoformat_z
from qr.vectors import fixed_bytes, fixed_key_material
from simulators.device_client import enrolment_body, sign_request

DEVICE_ID = "gate-m2a-03-1"
ENROLMENT_CODE = "ABCD-EFGH-IJKL-MNOP-QRST-UVWX"
SEALED_AT = datetime(2025, 12, 28, tzinfo=UTC)  # liveness key 2 comes into force in 4 days
SIGNED_AT = datetime(2025, 12, 28, 0, 0, 5, tzinfo=UTC)
NONCE = "vector-nonce-0000000001"
# RFC 9180 identifiers of the suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305.
KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0003


def device_key() -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(fixed_bytes("faregate vector device key"))


def other_device_key() -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(fixed_bytes("faregate vector other device key"))


def ephemeral_key() -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(fixed_bytes("faregate vector ephemeral key"))


def device_secret() -> bytes:
    """The secret the example server hands out (a real server draws 32 random bytes)."""
    return fixed_bytes("faregate vector device secret")


def raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


# --- RFC 9180 base mode, single shot, with a given ephemeral key -----------------------------


def _extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.digest(salt, b"HPKE-v1" + suite_id + label + ikm, "sha256")


def _expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


@dataclass(frozen=True, slots=True)
class Sealing:
    """Every intermediate value of one seal."""

    enc: bytes
    shared_secret: bytes
    key: bytes
    base_nonce: bytes
    ciphertext: bytes


def hpke_seal(
    recipient: X25519PublicKey, info: bytes, message: bytes, ephemeral: X25519PrivateKey
) -> Sealing:
    """SetupBaseS + Seal(aad="", pt) of RFC 9180 §5.1, §6.1 with `ephemeral` as skE."""
    kem_suite = b"KEM" + KEM_ID.to_bytes(2, "big")
    enc, pk_r = raw(ephemeral.public_key()), raw(recipient)
    dh = ephemeral.exchange(recipient)
    eae_prk = _extract(kem_suite, b"", b"eae_prk", dh)
    shared_secret = _expand(kem_suite, eae_prk, b"shared_secret", enc + pk_r, 32)
    suite = b"HPKE" + b"".join(i.to_bytes(2, "big") for i in (KEM_ID, KDF_ID, AEAD_ID))
    context = (
        b"\x00"  # mode_base
        + _extract(suite, b"", b"psk_id_hash", b"")
        + _extract(suite, b"", b"info_hash", info)
    )
    secret = _extract(suite, shared_secret, b"secret", b"")
    key = _expand(suite, secret, b"key", context, 32)
    base_nonce = _expand(suite, secret, b"base_nonce", context, 12)
    ciphertext = ChaCha20Poly1305(key).encrypt(base_nonce, message, b"")  # sequence number 0
    return Sealing(enc, shared_secret, key, base_nonce, ciphertext)


# --- the examples ------------------------------------------------------------------------------


def sealed_example() -> dict[str, Any]:
    """Liveness keys 1 and 2 of the token vectors sealed to DEVICE_ID on SEALED_AT."""
    material = fixed_key_material(rotated=True)
    keys = keys_for_device(material.keyset, material.liveness_masters, SEALED_AT)
    message = plaintext(DEVICE_ID, keys, SEALED_AT)
    info = hpke_info(DEVICE_ID)
    sealing = hpke_seal(device_key().public_key(), info, message, ephemeral_key())
    return {
        "device_private_key": device_key().private_bytes_raw().hex(),
        "device_public_key": raw(device_key().public_key()).hex(),
        "ephemeral_private_key": ephemeral_key().private_bytes_raw().hex(),
        "info": info.hex(),
        "plaintext": message.decode(),
        "enc": sealing.enc.hex(),
        "shared_secret": sealing.shared_secret.hex(),
        "key": sealing.key.hex(),
        "base_nonce": sealing.base_nonce.hex(),
        "ciphertext": sealing.ciphertext.hex(),
        "key_ids": [key.info.kid for key in keys],
    }


def enrolment_example() -> dict[str, Any]:
    body = enrolment_body(DEVICE_ID, ENROLMENT_CODE, device_key())
    return {
        "body": body.decode(),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "secret": device_secret().hex(),
    }


def signed_example(method: str, path: str, body: bytes = b"") -> dict[str, Any]:
    secret = device_secret()
    headers = sign_request(secret, DEVICE_ID, method, path, body, at=SIGNED_AT, nonce=NONCE)
    text = "\n".join(
        ["FG-HMAC-SHA256", DEVICE_ID, method, path, headers["X-Faregate-Timestamp"], NONCE,
         hashlib.sha256(body).hexdigest()]
    )  # fmt: skip
    return {"method": method, "path": path, "body": body.decode(), "string_to_sign": text,
            "headers": headers}  # fmt: skip


# --- Markdown --------------------------------------------------------------------------------


def _code(text: str) -> str:
    return f"```\n{text}\n```"


def render_enrolment() -> str:
    example = enrolment_example()
    public = raw(device_key().public_key()).hex()
    return "\n".join([
        f"- device id `{DEVICE_ID}`, enrolment code `{ENROLMENT_CODE}` (from `faregate devices "
        "add`)",
        "- X25519 private key = SHA-256(\"faregate vector device key\") = "
        f"`{device_key().private_bytes_raw().hex()}`; its public key `{public}`",
        f"- the request: `POST /device/v1/enrol`, `Content-Type: application/json`, body "
        f"({len(example['body'])} bytes, SHA-256 `{example['body_sha256']}`):",
        "",
        _code(example["body"]),
        "",
        "- the answer (the example server's secret is SHA-256(\"faregate vector device "
        f"secret\"); a real one is random): `\"secret\": \"{example['secret']}\"`",
    ])  # fmt: skip


def render_signed(method: str, path: str, body: bytes = b"") -> str:
    example = signed_example(method, path, body)
    lines = [
        f"`{method} {path}` at {isoformat_z(SIGNED_AT)} with the secret above and nonce "
        f"`{NONCE}`" + (f", body `{example['body']}`" if body else " (no body)") + ":",
        "",
        "string to sign (lines joined by `\\n`, no newline at the end):",
        "",
        _code(example["string_to_sign"]),
        "",
        "headers:",
        "",
        _code("\n".join(f"{name}: {value}" for name, value in example["headers"].items())),
    ]
    return "\n".join(lines)


def render_sealed() -> str:
    example = sealed_example()
    rows = [
        ("device private key (SHA-256 of \"faregate vector device key\")", "device_private_key"),
        ("device public key (sent at enrolment)", "device_public_key"),
        ("ephemeral private key (SHA-256 of \"faregate vector ephemeral key\")",
         "ephemeral_private_key"),
        ("info: \"faregate-liveness-keys/1\" 0x00 device id", "info"),
        ("enc (the ephemeral public key)", "enc"),
        ("shared_secret (DHKEM)", "shared_secret"),
        ("key (ChaCha20-Poly1305)", "key"),
        ("base_nonce", "base_nonce"),
    ]  # fmt: skip
    table = ["| value | hex |", "|---|---|"]
    table += [f"| {label} | `{example[name]}` |" for label, name in rows]
    return "\n".join([
        f"Suite {SUITE_NAME}; device `{DEVICE_ID}`; sealed at {isoformat_z(SEALED_AT)}, so "
        f"liveness key 2 of §8 (in force from 2026-01-01) is sent with key 1: key ids "
        f"{example['key_ids']}.",
        "",
        *table,
        "",
        f"plaintext ({len(example['plaintext'])} bytes of UTF-8):",
        "",
        _code(example["plaintext"]),
        "",
        f"ciphertext ({len(example['ciphertext']) // 2} bytes: the plaintext and the 16-byte "
        "tag):",
        "",
        _code(example["ciphertext"]),
    ])  # fmt: skip


def blocks() -> dict[str, str]:
    """Each documented block by its marker name."""
    return {
        "enrolment": render_enrolment(),
        "signed-get": render_signed("GET", "/device/v1/config"),
        "sealed": render_sealed(),
    }


def main() -> None:
    for name, block in blocks().items():
        sys.stdout.write(f"<!-- device-vectors:{name} begin -->\n{block}\n"
                         f"<!-- device-vectors:{name} end -->\n\n")  # fmt: skip


if __name__ == "__main__":
    main()
