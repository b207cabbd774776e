"""A gate's secure module (its SAM) as the simulators run it, written from docs/TOKEN-SPEC.md
§9: it holds the device's X25519 private key, opens the liveness keys the backend sealed to
it, and then answers `matches(credential_id, kid, code, at, window)` like any
`qr.liveness.SecureModule`. No master key leaves it; a box sealed to another device does not
open.

    module = DeviceSecureModule(key)                 # the key the device enrolled with
    module.load(sealed)                              # GET /device/v1/liveness-keys, as JSON
    gate = OfflineGate(device_id, keyset, module, journal)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from qr.liveness import LivenessMaster, SoftwareSecureModule, TotpWindow
from simulators.errors import SealedKeysError

SEALED_FORMAT = "faregate-sealed-liveness-keys/1"
PLAINTEXT_FORMAT = "faregate-device-liveness-keys/1"
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)


def open_sealed(sealed: Mapping[str, Any], key: X25519PrivateKey) -> dict[str, Any]:
    """The plaintext document of a sealed liveness key set (RFC 9180 base-mode Open with
    info = "faregate-liveness-keys/1" 0x00 device id, empty aad); SealedKeysError if it is not
    one or was not sealed to `key` for that device."""
    try:
        if sealed["format"] != SEALED_FORMAT:
            raise ValueError(f"format {sealed['format']!r}")
        device_id = str(sealed["device_id"])
        box = bytes.fromhex(sealed["enc"]) + bytes.fromhex(sealed["ciphertext"])
        info = b"faregate-liveness-keys/1\x00" + device_id.encode()
        document: dict[str, Any] = json.loads(SUITE.decrypt(box, key, info=info))
    except (InvalidTag, KeyError, TypeError, ValueError) as error:  # ValueError: hex, JSON
        raise SealedKeysError(
            f"the liveness keys do not open with this device's key: {error!r}"
        ) from None
    if document.get("format") != PLAINTEXT_FORMAT or document.get("device_id") != device_id:
        raise SealedKeysError("the sealed document is not this device's liveness keys")
    return document


class DeviceSecureModule:
    """The SAM: the device's private key and the liveness masters it has opened."""

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key
        self._masters = SoftwareSecureModule({})
        self.version: str | None = None  # of the key set held (its ETag)
        self.key_ids: tuple[int, ...] = ()

    def load(self, sealed: Mapping[str, Any]) -> tuple[int, ...]:
        """Open a sealed key set and hold its keys from now on (they replace the old ones: the
        backend always sends every key still needed); the key ids now held."""
        document = open_sealed(sealed, self._key)
        try:
            masters = {
                int(e["kid"]): LivenessMaster(bytes.fromhex(e["master"]), int(e["period"]))
                for e in document["keys"]
            }
        except (KeyError, TypeError, ValueError) as error:
            raise SealedKeysError(f"a sealed key is malformed: {error!r}") from None
        self._masters = SoftwareSecureModule(masters)
        self.version = str(sealed["version"])
        self.key_ids = tuple(sorted(masters))
        return self.key_ids

    def knows(self, liveness_kid: int) -> bool:
        return self._masters.knows(liveness_kid)

    def matches(
        self, credential_id: int, liveness_kid: int, code: str, at: float, window: TotpWindow
    ) -> int | None:
        return self._masters.matches(credential_id, liveness_kid, code, at, window)
