"""The device registry's values: what a gate, validator or barrier is, where it is bound, and
the rules of its enrolment. No I/O; stored by `ticketing.stores.device_registry`.

A device is registered by an operator with its **binding** (a gate to a station's stop, an
on-board validator to a route, a barrier to a lot and optionally one lane direction) and gets
a one-time **enrolment code**. The device presents the code once (`POST /device/v1/enrol`)
and receives its own signing secret; the registry keeps only the code's hash and the secret
encrypted under the server's key (`ticketing.device_secrets`). Revoking a device destroys its
secret; registering it again issues a new code, and enrolling again a new secret.

    pending --enrol--> active --revoke--> revoked --add--> pending
       |                                    ^
       +--------------revoke----------------+
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ticketing.errors import InvalidDevice, UnknownPlace

# The X-Faregate-Device header's alphabet: what a device may be called.
DEVICE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Stop, route and lot ids as the fare feed and the lots table hold them: printable, no spaces.
PLACE_ID = re.compile(r"[^\x00-\x20\x7f]{1,100}")
CODE_BYTES = 15  # 120 bits, 24 base32 characters
CODE_GROUP = 4
DEFAULT_CODE_LIFETIME = timedelta(hours=24)
MAX_CODE_LIFETIME = timedelta(days=30)
PUBLIC_KEY_BYTES = 32  # X25519
_CODE_LABEL = b"faregate-enrolment-code/1\x00"
_CODE_TEXT = re.compile(r"[A-Z2-7]{24}")


class DeviceKind(enum.StrEnum):
    GATE = "gate"  # a station's gate line, bound to one stop
    VALIDATOR = "validator"  # an on-board validator, bound to one route
    BARRIER = "barrier"  # a car park's barrier, bound to one lot


class Direction(enum.StrEnum):
    """The one lane a barrier serves; a barrier without a direction serves both."""

    ENTRY = "entry"
    EXIT = "exit"


class StalePolicy(enum.StrEnum):
    """What a gate does with a deny list older than its limit (docs/TOKEN-SPEC.md §5)."""

    ACCEPT_FLAGGED = "accept_flagged"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True, kw_only=True)
class DevicePolicy:
    """What every device is told to decide offline with (its configuration, besides where it
    is bound): the credential products it accepts, its passback time, how many TOTP steps a
    code may be off, how old its deny list may grow before the offline policy applies, and how
    often it uploads and reports."""

    accepted_products: tuple[str, ...]
    passback: timedelta = timedelta(seconds=120)
    totp_before: int = 1
    totp_after: int = 1
    max_deny_list_age: timedelta = timedelta(hours=6)
    stale_deny_list: StalePolicy = StalePolicy.ACCEPT_FLAGGED
    upload_interval: timedelta = timedelta(seconds=60)
    heartbeat_interval: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if not self.accepted_products:
            raise InvalidDevice("a device policy accepts at least one product")
        if min(self.totp_before, self.totp_after) < 0:
            raise InvalidDevice("TOTP window sizes cannot be negative")
        for name in ("passback", "max_deny_list_age", "upload_interval", "heartbeat_interval"):
            if getattr(self, name) < timedelta(0):
                raise InvalidDevice(f"{name.replace('_', ' ')} cannot be negative")


class RegistrationStatus(enum.StrEnum):
    PENDING = "pending"  # registered, its enrolment code not yet used
    ACTIVE = "active"  # enrolled: holds a secret and may sign requests
    REVOKED = "revoked"  # refused everywhere; register it again to re-enrol


@dataclass(frozen=True, slots=True, kw_only=True)
class Binding:
    """Where a device works: the one place its kind is bound to, and nothing else."""

    kind: DeviceKind
    stop_id: str | None = None
    route_id: str | None = None
    lot_id: str | None = None
    direction: Direction | None = None

    def __post_init__(self) -> None:
        wanted = {
            DeviceKind.GATE: "stop_id",
            DeviceKind.VALIDATOR: "route_id",
            DeviceKind.BARRIER: "lot_id",
        }[self.kind]
        if getattr(self, wanted) is None:
            option = "--" + wanted.removesuffix("_id")
            raise InvalidDevice(f"a {self.kind} is bound to a {option[2:]}: give {option}")
        for name in ("stop_id", "route_id", "lot_id"):
            value = getattr(self, name)
            what = name.removesuffix("_id")
            if name != wanted and value is not None:
                raise InvalidDevice(
                    f"a {self.kind} has no {what} (--{what} is for a {_KIND_OF[name]})"
                )
            if value is not None and not PLACE_ID.fullmatch(value):
                raise InvalidDevice(
                    f"{what} id {value[:80]!r} must be 1-100 printable characters without spaces"
                )
        if self.direction is not None and self.kind is not DeviceKind.BARRIER:
            raise InvalidDevice(f"only a barrier has a direction, not a {self.kind}")

    @property
    def place(self) -> str:
        """The bound place's id (stop, route or lot)."""
        place = self.stop_id or self.route_id or self.lot_id
        assert place is not None  # __post_init__ requires one
        return place

    def describe(self) -> str:
        """`stop m2a_03`, `route bus32`, `lot hn-vincom (entry)`."""
        what = {DeviceKind.GATE: "stop", DeviceKind.VALIDATOR: "route"}.get(self.kind, "lot")
        lane = f" ({self.direction})" if self.direction is not None else ""
        return f"{what} {self.place}{lane}"


_KIND_OF = {"stop_id": "gate", "route_id": "validator", "lot_id": "barrier"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Places:
    """The places a device may be bound to: the fare feed's stops and routes, the lots."""

    stops: Collection[str]
    routes: Collection[str]
    lots: Collection[str]

    def check(self, binding: Binding) -> None:
        """Refuse a binding to a place that does not exist (UnknownPlace names it)."""
        known, what = {
            DeviceKind.GATE: (self.stops, "stop"),
            DeviceKind.VALIDATOR: (self.routes, "route"),
            DeviceKind.BARRIER: (self.lots, "lot"),
        }[binding.kind]
        if binding.place not in known:
            where = "the lots" if what == "lot" else "the fare feed"
            raise UnknownPlace(f"no {what} {binding.place!r} in {where}")


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID.fullmatch(device_id):
        raise InvalidDevice(
            f"device id {device_id[:80]!r} must be 1-64 of A-Z a-z 0-9 . _ : -"
        )
    return device_id


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRecord:
    """A registered device as the registry holds it, without its secret or code."""

    device_id: str
    binding: Binding
    status: RegistrationStatus
    generation: int  # how many times it has enrolled; the secret of each is different
    added_at: datetime
    code_expires_at: datetime | None  # pending: when its enrolment code stops working
    enrolled_at: datetime | None
    revoked_at: datetime | None
    public_key: bytes | None  # X25519, sent at enrolment: liveness keys are sealed to it

    @property
    def kind(self) -> DeviceKind:
        return self.binding.kind


# --- enrolment codes ------------------------------------------------------------------------


def new_enrolment_code() -> str:
    """A fresh one-time code: 24 base32 characters in groups of four, e.g. `ABCD-EFGH-...`."""
    text = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii")
    return "-".join(text[i : i + CODE_GROUP] for i in range(0, len(text), CODE_GROUP))


def normalise_code(code: str) -> str | None:
    """The code as typed (any case, with or without dashes and spaces), or None when it
    cannot be a code at all."""
    text = code.replace("-", "").replace(" ", "").upper()
    return text if _CODE_TEXT.fullmatch(text) else None


def code_hash(device_id: str, code: str) -> str:
    """What the registry keeps of a code: SHA-256 over a label, the device id and the code, so
    a code is good for its own device only. A code has 120 random bits: no slow hash needed."""
    text = normalise_code(code) or code
    digest = hashlib.sha256(_CODE_LABEL + device_id.encode() + b"\x00" + text.encode())
    return digest.hexdigest()


def code_matches(stored_hash: str, device_id: str, code: str) -> bool:
    return hmac.compare_digest(stored_hash, code_hash(device_id, code))


def code_lifetime(valid_for: timedelta) -> timedelta:
    if not timedelta(minutes=1) <= valid_for <= MAX_CODE_LIFETIME:
        raise InvalidDevice(
            f"an enrolment code is valid for 1 minute to {MAX_CODE_LIFETIME.days} days"
        )
    return valid_for


def check_public_key(raw: bytes) -> bytes:
    """An X25519 public key a shared secret can be agreed with (32 bytes, not a small-order
    point, which would make every sealed box open with a guessable key)."""
    if len(raw) != PUBLIC_KEY_BYTES:
        raise InvalidDevice(f"public_key is {PUBLIC_KEY_BYTES} bytes of X25519, not {len(raw)}")
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        raise InvalidDevice("public_key is not a usable X25519 public key") from None
    return raw
