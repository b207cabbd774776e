"""Key sets and key directories: issuer Ed25519 keys and liveness master keys, with rotation.

A key directory holds three files:

- `keyset.json`: the public key-set document a gate needs (issuer public keys and liveness key
  ids, each with `not_before` / `not_after`);
- `issuer-keys.json` (mode 0600): the issuer's Ed25519 private keys, for the issuing service;
- `liveness-keys.json` (mode 0600): the liveness master keys, for the issuing service and the
  gates' secure modules.

A key is *in force* at `t` when `not_before <= t < not_after`. Rotation adds a key of each kind
with the next id; older keys stay in the set and verify until their own `not_after`. Issuing
uses the newest key in force, and a credential may not outlive the keys that made it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qr.credential import MAX_KEY_ID
from qr.errors import KeySetError, NoActiveKeyError
from qr.jsonfile import read_json, write_json
from qr.liveness import DEFAULT_PERIOD, MAX_PERIOD, LivenessMaster, SoftwareSecureModule
from qr.timeutil import EARLIEST, LATEST, isoformat_z, parse_instant, require_aware

KEYSET_FORMAT = "faregate-keyset/1"
ISSUER_SECRETS_FORMAT = "faregate-issuer-keys/1"
LIVENESS_SECRETS_FORMAT = "faregate-liveness-keys/1"
KEYSET_FILE = "keyset.json"
ISSUER_KEYS_FILE = "issuer-keys.json"
LIVENESS_KEYS_FILE = "liveness-keys.json"
DEFAULT_KEY_LIFETIME = timedelta(days=730)


@dataclass(frozen=True, slots=True)
class IssuerPublicKey:
    kid: int
    public_key: bytes  # raw 32-byte Ed25519 public key
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True)
class LivenessKeyInfo:
    """A liveness key as the public key set names it: no secret, only its id, period and life."""

    kid: int
    period: int
    not_before: datetime
    not_after: datetime


class _DatedKey(Protocol):
    """Either kind of public key, as far as choosing the newest one in force goes."""

    @property
    def kid(self) -> int: ...
    @property
    def not_before(self) -> datetime: ...
    @property
    def not_after(self) -> datetime: ...


_Key = TypeVar("_Key", bound=_DatedKey)


def _newest_in_force(keys: Iterable[_Key], at: datetime, kind: str) -> _Key:
    active = [k for k in keys if k.not_before <= at < k.not_after]
    if not active:
        raise NoActiveKeyError(f"no {kind} key in force at {isoformat_z(at)}")
    return max(active, key=lambda k: k.kid)


@dataclass(frozen=True, slots=True)
class KeySet:
    """The public key-set document: everything a gate needs to know about keys but no secret."""

    issuer_keys: tuple[IssuerPublicKey, ...]
    liveness_keys: tuple[LivenessKeyInfo, ...]

    def issuer(self, kid: int) -> IssuerPublicKey | None:
        return next((k for k in self.issuer_keys if k.kid == kid), None)

    def newest_issuer(self, at: datetime) -> IssuerPublicKey:
        return _newest_in_force(self.issuer_keys, at, "issuer")

    def newest_liveness(self, at: datetime) -> LivenessKeyInfo:
        return _newest_in_force(self.liveness_keys, at, "liveness")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": KEYSET_FORMAT,
            "issuer_keys": [
                {
                    "kid": k.kid,
                    "alg": "Ed25519",
                    "public_key": k.public_key.hex(),
                    "not_before": isoformat_z(k.not_before),
                    "not_after": isoformat_z(k.not_after),
                }
                for k in self.issuer_keys
            ],
            "liveness_keys": [
                {
                    "kid": k.kid,
                    "totp": "HMAC-SHA1/8",
                    "period": k.period,
                    "not_before": isoformat_z(k.not_before),
                    "not_after": isoformat_z(k.not_after),
                }
                for k in self.liveness_keys
            ],
        }

    @classmethod
    def from_json(cls, doc: object) -> KeySet:
        if not isinstance(doc, dict) or doc.get("format") != KEYSET_FORMAT:
            raise KeySetError(f"not a key-set document (expected format {KEYSET_FORMAT!r})")
        try:
            issuers = tuple(
                IssuerPublicKey(
                    kid=_kid(e["kid"]),
                    public_key=_public_key_bytes(e["public_key"]),
                    not_before=parse_instant(e["not_before"], "not_before"),
                    not_after=parse_instant(e["not_after"], "not_after"),
                )
                for e in doc["issuer_keys"]
            )
            liveness = tuple(
                LivenessKeyInfo(
                    kid=_kid(e["kid"]),
                    period=check_period(e["period"]),
                    not_before=parse_instant(e["not_before"], "not_before"),
                    not_after=parse_instant(e["not_after"], "not_after"),
                )
                for e in doc["liveness_keys"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeySetError(f"malformed key-set document: {exc}") from exc
        for issuer in issuers:
            _lifetime("issuer", issuer.kid, issuer.not_before, issuer.not_after)
        for live in liveness:
            _lifetime("liveness", live.kid, live.not_before, live.not_after)
        for name, kids in (
            ("issuer", [k.kid for k in issuers]),
            ("liveness", [k.kid for k in liveness]),
        ):
            if len(set(kids)) != len(kids):
                raise KeySetError(f"duplicate {name} key id in key-set document")
        return cls(issuers, liveness)


def _kid(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_KEY_ID:
        raise KeySetError(f"key id must be an integer 1..{MAX_KEY_ID}, got {value!r}")
    return value


def check_period(value: object) -> int:
    """A TOTP period in whole seconds, 1..MAX_PERIOD (what the phone's pyotp can generate)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PERIOD:
        raise KeySetError(f"TOTP period must be 1..{MAX_PERIOD} seconds, got {value!r}")
    return value


def _public_key_bytes(value: object) -> bytes:
    if not isinstance(value, str):
        raise KeySetError("public_key must be a hex string")
    try:
        raw = bytes.fromhex(value)
        Ed25519PublicKey.from_public_bytes(raw)  # raises ValueError unless 32 valid bytes
    except ValueError as exc:
        raise KeySetError(f"public_key is not an Ed25519 public key: {exc}") from None
    return raw


def _lifetime(kind: str, kid: int, not_before: datetime, not_after: datetime) -> None:
    if not not_before < not_after:
        raise KeySetError(
            f"{kind} key {kid}: not_after {isoformat_z(not_after)} is not after "
            f"not_before {isoformat_z(not_before)}"
        )


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """Everything in a key directory: the public set and both kinds of secrets."""

    keyset: KeySet
    issuer_private: Mapping[int, Ed25519PrivateKey]
    liveness_masters: Mapping[int, LivenessMaster]

    def secure_module(self) -> SoftwareSecureModule:
        return SoftwareSecureModule(self.liveness_masters)

    def rotated(
        self,
        now: datetime,
        lifetime: timedelta = DEFAULT_KEY_LIFETIME,
        period: int | None = None,
        *,
        issuer_key: Ed25519PrivateKey | None = None,
        liveness_master: bytes | None = None,
    ) -> KeyMaterial:
        """A copy with one new key of each kind, in force from `now` for `lifetime`."""
        require_aware(now, "rotation time")
        # A key set is read back with parse_instant, which keeps to EARLIEST..LATEST.
        if not (now >= EARLIEST and lifetime < LATEST - now):
            raise KeySetError(
                f"keys from {isoformat_z(now)} for {lifetime.days} days would not end "
                f"within {EARLIEST.year}..{LATEST.year - 1}"
            )
        end = now + lifetime
        if lifetime <= timedelta(0):
            raise KeySetError(f"key lifetime must be positive, got {lifetime}")
        issuer_kid = 1 + max((k.kid for k in self.keyset.issuer_keys), default=0)
        liveness_kid = 1 + max((k.kid for k in self.keyset.liveness_keys), default=0)
        if max(issuer_kid, liveness_kid) > MAX_KEY_ID:
            raise KeySetError(f"key ids exhausted (at most {MAX_KEY_ID} rotations)")
        if period is None:
            period = (
                max(self.keyset.liveness_keys, key=lambda k: k.kid).period
                if (self.keyset.liveness_keys)
                else DEFAULT_PERIOD
            )
        check_period(period)
        new_issuer = issuer_key or Ed25519PrivateKey.generate()
        new_master = liveness_master or secrets.token_bytes(32)
        keyset = KeySet(
            (
                *self.keyset.issuer_keys,
                IssuerPublicKey(issuer_kid, public_bytes(new_issuer), now, end),
            ),
            (
                *self.keyset.liveness_keys,
                LivenessKeyInfo(liveness_kid, period, now, end),
            ),
        )
        return KeyMaterial(
            keyset,
            {**self.issuer_private, issuer_kid: new_issuer},
            {**self.liveness_masters, liveness_kid: LivenessMaster(new_master, period)},
        )


EMPTY = KeyMaterial(KeySet((), ()), {}, {})


def init_keys(
    directory: Path,
    now: datetime,
    lifetime: timedelta = DEFAULT_KEY_LIFETIME,
    period: int = DEFAULT_PERIOD,
) -> KeyMaterial:
    """Create a key directory with one key of each kind; refuses to overwrite existing keys."""
    for name in (KEYSET_FILE, ISSUER_KEYS_FILE, LIVENESS_KEYS_FILE):
        if (directory / name).exists():
            raise KeySetError(f"{directory / name} already exists; use `keys rotate` to add keys")
    material = EMPTY.rotated(now, lifetime, period)
    save_keys(directory, material)
    return material


def rotate_keys(
    directory: Path,
    now: datetime,
    lifetime: timedelta = DEFAULT_KEY_LIFETIME,
    period: int | None = None,
) -> KeyMaterial:
    material = load_keys(directory).rotated(now, lifetime, period)
    save_keys(directory, material)
    return material


def save_keys(directory: Path, material: KeyMaterial) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeySetError(f"cannot create {directory}: {exc.strerror or exc}") from None
    issuer_doc = {
        "format": ISSUER_SECRETS_FORMAT,
        "keys": {
            str(kid): key.private_bytes_raw().hex() for kid, key in material.issuer_private.items()
        },
    }
    liveness_doc = {
        "format": LIVENESS_SECRETS_FORMAT,
        "keys": {
            str(kid): {"master": m.master.hex(), "period": m.period}
            for kid, m in material.liveness_masters.items()
        },
    }
    # Secrets first: a crash must never leave a public key whose private half is lost.
    write_json(directory / ISSUER_KEYS_FILE, issuer_doc, 0o600, KeySetError)
    write_json(directory / LIVENESS_KEYS_FILE, liveness_doc, 0o600, KeySetError)
    write_json(directory / KEYSET_FILE, material.keyset.to_json(), 0o644, KeySetError)


def _read_json(path: Path) -> Any:
    return read_json(path, KeySetError, " (create keys with `faregate keys init DIR`)")


def load_keyset(directory: Path) -> KeySet:
    """The public part only: what a gate loads."""
    return KeySet.from_json(_read_json(directory / KEYSET_FILE))


def load_liveness_keys(directory: Path) -> tuple[KeySet, dict[int, LivenessMaster]]:
    """The public key set and the liveness masters, without the issuer's private keys: what
    the backend seals into gates' secure modules."""
    return load_keyset(directory), _load_liveness_masters(directory)


def load_secure_module(directory: Path) -> SoftwareSecureModule:
    return SoftwareSecureModule(_load_liveness_masters(directory))


def _load_liveness_masters(directory: Path) -> dict[int, LivenessMaster]:
    path = directory / LIVENESS_KEYS_FILE
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != LIVENESS_SECRETS_FORMAT:
        raise KeySetError(f"{path} is not a liveness key file")
    try:
        return {
            _kid(int(kid)): LivenessMaster(bytes.fromhex(e["master"]), check_period(e["period"]))
            for kid, e in doc["keys"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KeySetError(f"{path} is malformed: {exc}") from exc


def load_keys(directory: Path) -> KeyMaterial:
    keyset = load_keyset(directory)
    path = directory / ISSUER_KEYS_FILE
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != ISSUER_SECRETS_FORMAT:
        raise KeySetError(f"{path} is not an issuer key file")
    try:
        issuer_private = {
            _kid(int(kid)): Ed25519PrivateKey.from_private_bytes(bytes.fromhex(raw))
            for kid, raw in doc["keys"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KeySetError(f"{path} is malformed: {exc}") from exc
    return KeyMaterial(keyset, issuer_private, _load_liveness_masters(directory))
