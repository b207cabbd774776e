"""Device secrets at rest: each device's random signing secret, encrypted under the server's
device key before it is stored. No I/O.

The server must read a device's secret back to check the HMAC of each request, so a one-way
hash will not do. What the devices table holds is

    sealed = 0x01 || nonce (12 bytes) || ChaCha20-Poly1305(KEK, nonce, secret, aad)
    KEK    = HKDF-SHA256(device key, salt = none, info = "faregate-device-secret-kek/1", 32)
    aad    = "faregate-device-secret/1" || 0x00 || device id || 0x00 || generation (8 bytes BE)

with the device key the 32 bytes of `DATA_DIR/device-master.key` (every server process of a
deployment shares that file). A copy of the database alone exposes no secret; the associated
data ties each sealed secret to its device and enrolment, so a row copied onto another device
or a re-enrolled one does not open.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ticketing.errors import DeviceKeyMismatch

SECRET_BYTES = 32
DEVICE_KEY_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12
_KEK_INFO = b"faregate-device-secret-kek/1"
_AAD_LABEL = b"faregate-device-secret/1\x00"


def new_device_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


class SecretBox:
    """Seals and opens device secrets under one device key (the server's master key)."""

    __slots__ = ("_aead",)

    def __init__(self, device_key: bytes) -> None:
        if len(device_key) != DEVICE_KEY_BYTES:
            raise ValueError(f"the device key is {DEVICE_KEY_BYTES} bytes, not {len(device_key)}")
        kek = HKDF(hashes.SHA256(), length=32, salt=None, info=_KEK_INFO).derive(device_key)
        self._aead = ChaCha20Poly1305(kek)

    @staticmethod
    def _aad(device_id: str, generation: int) -> bytes:
        return _AAD_LABEL + device_id.encode() + b"\x00" + generation.to_bytes(8, "big")

    def seal(self, device_id: str, generation: int, secret: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return (
            _VERSION
            + nonce
            + self._aead.encrypt(nonce, secret, self._aad(device_id, generation))
        )

    def open(self, device_id: str, generation: int, sealed: bytes) -> bytes:
        """The secret, or DeviceKeyMismatch when this key (or this device) did not seal it."""
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise DeviceKeyMismatch(f"the stored secret of device {device_id} is not readable")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, self._aad(device_id, generation))
        except InvalidTag:
            raise DeviceKeyMismatch(
                f"the server's device key does not open the secret of device {device_id} "
                "(servers sharing devices must share DATA_DIR/device-master.key)"
            ) from None
