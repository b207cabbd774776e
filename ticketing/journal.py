"""What a gate or validator journals, and the rules the backend judges it by. No I/O.

A device knows a credential id, never an account: its accepted taps (`JournalTap`) carry the
credential id and what the device saw (time, route, stop, direction, its deny-list version
and whether that list was stale), and the backend attributes each to an account from its own
records (`attribute`). Its refused decisions (`JournalRefusal`) are counted per device, stop
and reason.

A tap the backend cannot attribute or price is acknowledged like any other (the device may
drop it) but kept in quarantine with its reason (`QuarantineReason`), never priced until
finance resolves it: attributed to an account (priced then as a late tap of its day) or
written off.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from ticketing.devices import Binding, DeviceKind
from ticketing.taps import TapKind

# A tap time this far ahead of the server's clock is a broken device clock, not a ride.
MAX_AHEAD = timedelta(days=1)
# Nor is one older than this: no device keeps a record unuploaded for a quarter.
MAX_AGE = timedelta(days=90)
# Nor one made before its device was enrolled, beyond the clock error a signed request may
# have (docs/DEVICE-API.md: 5 minutes either way).
ENROLMENT_SLACK = timedelta(minutes=5)
# What a quarantined tap is in its day's settlement exceptions.
QUARANTINED_TAP = "quarantined_tap"


class QuarantineReason(enum.StrEnum):
    """Why a tap was quarantined instead of priced."""

    UNKNOWN_CREDENTIAL = "unknown-credential"  # no credential with this id was ever issued
    REVOKED_CREDENTIAL = "revoked-credential"  # used after its revocation
    STALE_DENY_LIST = "stale-deny-list"  # accepted on a stale list while it was denied
    UNKNOWN_STOP = "unknown-stop"  # not a stop of the fare feed
    UNKNOWN_ROUTE = "unknown-route"  # not a route of the fare feed
    WRONG_PLACE = "wrong-place"  # a stop or route the device is not bound to
    IMPLAUSIBLE_TIME = "implausible-time"  # far ahead of or behind the server's clock
    BEFORE_ENROLMENT = "before-enrolment"  # dated before its device was (last) enrolled

    @property
    def attributable(self) -> bool:
        """Whether finance may attribute such a tap to an account (it can then be priced);
        a tap at a place or time pricing cannot use can only be written off."""
        return self in _ATTRIBUTABLE


_ATTRIBUTABLE = frozenset(
    {
        QuarantineReason.UNKNOWN_CREDENTIAL,
        QuarantineReason.REVOKED_CREDENTIAL,
        QuarantineReason.STALE_DENY_LIST,
        QuarantineReason.WRONG_PLACE,
        # a re-enrolled device's records of its previous enrolment may be genuine rides
        QuarantineReason.BEFORE_ENROLMENT,
    }
)


class QuarantineStatus(enum.StrEnum):
    OPEN = "open"  # waiting for finance
    ATTRIBUTED = "attributed"  # given to an account: stored as a tap and priced
    WRITTEN_OFF = "written_off"  # never priced


class Resolution(enum.StrEnum):
    """What finance decides for a quarantined tap."""

    ATTRIBUTE = "attribute"
    WRITE_OFF = "write_off"


class IssuedCredential(Protocol):
    """What attributing a tap reads of its credential (`ticketing.riders.CredentialRecord`,
    or the upload's `CredentialOwner`)."""

    @property
    def account_id(self) -> str: ...

    @property
    def revoked_at(self) -> datetime | None: ...


class JournalTap(Protocol):
    """An accepted tap as a device uploads it (the device API's decoded record satisfies it)."""

    @property
    def device_id(self) -> str: ...

    @property
    def device_seq(self) -> int: ...

    @property
    def credential_id(self) -> int: ...

    @property
    def at(self) -> datetime: ...

    @property
    def route_id(self) -> str: ...

    @property
    def stop_id(self) -> str: ...

    @property
    def kind(self) -> TapKind: ...

    @property
    def deny_list_stale(self) -> bool: ...

    @property
    def step(self) -> int | None:
        """The TOTP step of the code the device accepted (None: the device did not say)."""
        ...


@dataclass(frozen=True, slots=True)
class DeviceTap:
    """A `JournalTap` as a plain value (the demo's and tests' devices, in process)."""

    device_id: str
    device_seq: int
    credential_id: int
    at: datetime
    route_id: str
    stop_id: str
    kind: TapKind
    deny_list_stale: bool = False
    step: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRefusal:
    """A decision the device refused (bad signature, denied, replayed, ...), as journaled."""

    device_id: str
    device_seq: int
    at: datetime
    reason: str
    credential_id: int | None = None
    route_id: str | None = None
    stop_id: str | None = None
    step: int | None = None
    deny_list_version: int | None = None
    deny_list_stale: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedPlaces:
    """The stops and routes of the fare feed, and each stop's station (itself when it has no
    parent station): what a tap's place is checked against."""

    stops: Collection[str]
    routes: Collection[str]
    station_of: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The backend's reading of one tap: the account it is priced on, or why it cannot be."""

    account_id: str | None
    reason: QuarantineReason | None = None
    detail: str = ""


def check_place(tap: JournalTap, binding: Binding, places: FeedPlaces) -> Verdict | None:
    """A quarantine verdict when the tap's stop or route is not the feed's, or not where its
    device is bound (a gate at its station, a validator on its route); None when it fits."""
    if tap.stop_id not in places.stops:
        return Verdict(
            account_id=None, reason=QuarantineReason.UNKNOWN_STOP,
            detail=f"stop {tap.stop_id!r} is not in the fare feed",
        )  # fmt: skip
    if tap.route_id not in places.routes:
        return Verdict(
            account_id=None, reason=QuarantineReason.UNKNOWN_ROUTE,
            detail=f"route {tap.route_id!r} is not in the fare feed",
        )  # fmt: skip
    if binding.kind is DeviceKind.GATE:
        home = places.station_of.get(binding.place, binding.place)
        if places.station_of.get(tap.stop_id, tap.stop_id) != home:
            return Verdict(
                account_id=None, reason=QuarantineReason.WRONG_PLACE,
                detail=f"stop {tap.stop_id!r} is not at the gate's station {home!r}",
            )  # fmt: skip
    elif binding.kind is DeviceKind.VALIDATOR and tap.route_id != binding.place:
        return Verdict(
            account_id=None, reason=QuarantineReason.WRONG_PLACE,
            detail=f"route {tap.route_id!r} is not the validator's route {binding.place!r}",
        )  # fmt: skip
    return None


def check_time(at: datetime, now: datetime, enrolled_at: datetime | None = None) -> Verdict | None:
    """A quarantine verdict for a tap time no working device clock gives, or one before its
    device was enrolled (`enrolled_at`; None: not checked)."""
    if at > now + MAX_AHEAD:
        return Verdict(
            account_id=None, reason=QuarantineReason.IMPLAUSIBLE_TIME,
            detail=f"tap time {at.isoformat()} is more than {MAX_AHEAD} ahead of the server",
        )  # fmt: skip
    if at < now - MAX_AGE:
        return Verdict(
            account_id=None, reason=QuarantineReason.IMPLAUSIBLE_TIME,
            detail=f"tap time {at.isoformat()} is more than {MAX_AGE.days} days old",
        )  # fmt: skip
    if enrolled_at is not None and at < enrolled_at - ENROLMENT_SLACK:
        return Verdict(
            account_id=None, reason=QuarantineReason.BEFORE_ENROLMENT,
            detail=f"tap time {at.isoformat()} is before its device was enrolled at "
            f"{enrolled_at.isoformat()}",
        )  # fmt: skip
    return None


def attribute(tap: JournalTap, credential: IssuedCredential | None) -> Verdict:
    """Whose tap it is: the account the credential was issued to, unless the credential is
    unknown or was revoked before the tap (a tap made before the revocation is the rider's)."""
    if credential is None:
        return Verdict(
            account_id=None, reason=QuarantineReason.UNKNOWN_CREDENTIAL,
            detail=f"no credential {tap.credential_id} was issued",
        )  # fmt: skip
    if credential.revoked_at is not None and tap.at >= credential.revoked_at:
        reason = (
            QuarantineReason.STALE_DENY_LIST
            if tap.deny_list_stale
            else QuarantineReason.REVOKED_CREDENTIAL
        )
        return Verdict(
            account_id=None, reason=reason,
            detail=f"credential {tap.credential_id} of account {credential.account_id} was "
            f"revoked at {credential.revoked_at.isoformat()}",
        )  # fmt: skip
    return Verdict(account_id=credential.account_id)


def judge(
    tap: JournalTap,
    binding: Binding,
    places: FeedPlaces,
    credential: IssuedCredential | None,
    now: datetime,
    enrolled_at: datetime | None = None,
) -> Verdict:
    """Every check of one tap, the first that fails deciding its quarantine reason
    (`enrolled_at`: when its device was enrolled)."""
    return (
        check_time(tap.at, now, enrolled_at)
        or check_place(tap, binding, places)
        or attribute(tap, credential)
    )


def judge_upload(
    taps: Iterable[JournalTap],
    binding: Binding,
    places: FeedPlaces,
    credentials: Mapping[int, IssuedCredential],
    now: datetime,
    enrolled_at: datetime | None = None,
) -> tuple[list[AttributedTap], list[tuple[JournalTap, Verdict]]]:
    """`judge` of each tap of one device's upload (`credentials` by id): the taps that pass,
    attributed, and the others with their verdict. The same verdicts, at less cost per tap:
    the time window is worked out once, each stop and route's place check once, and a tap
    that passes builds no verdict; any other tap goes through `judge` for its reason."""
    earliest = now - MAX_AGE
    if enrolled_at is not None:
        earliest = max(earliest, enrolled_at - ENROLMENT_SLACK)
    latest = now + MAX_AHEAD
    place_fits: dict[tuple[str, str], bool] = {}
    good: list[AttributedTap] = []
    bad: list[tuple[JournalTap, Verdict]] = []
    for tap in taps:
        at, place = tap.at, (tap.stop_id, tap.route_id)
        fits = place_fits.get(place)
        if fits is None:
            fits = place_fits[place] = check_place(tap, binding, places) is None
        credential = credentials.get(tap.credential_id)
        if (
            fits
            and earliest <= at <= latest
            and credential is not None
            and (credential.revoked_at is None or at < credential.revoked_at)
        ):
            good.append(attributed(tap, credential.account_id))
        else:
            bad.append((tap, judge(tap, binding, places, credential, now, enrolled_at)))
    return good, bad


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantinedTap:
    """A tap in quarantine as stored: what the device sent, why it is there, and what finance
    decided (`status`, the account it was attributed to, who, when and why)."""

    id: int
    device_id: str
    device_seq: int
    credential_id: int
    at: datetime
    route_id: str
    stop_id: str
    kind: TapKind
    deny_list_stale: bool
    reason: QuarantineReason
    detail: str
    received_at: datetime
    status: QuarantineStatus
    account_id: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RefusalCount:
    """How many decisions one device refused at one stop for one reason."""

    device_id: str
    stop_id: str | None
    reason: str
    count: int


class AttributedTap(NamedTuple):
    """A journal tap with the account the backend attributed it to: what `taps` stores
    (`ticketing.taps.TapRecord`), built without a `Tap`'s checks, which the upload's decoding
    has made already. A tuple: an upload builds hundreds, and a frozen dataclass's
    `__init__` (a `object.__setattr__` per field) was the upload's costliest line."""

    device_id: str
    device_seq: int
    credential_id: int
    account_id: str
    at: datetime
    route_id: str
    stop_id: str
    kind: TapKind
    step: int | None = None  # the TOTP step accepted: what settlement finds shared codes by


def attributed(tap: JournalTap, account_id: str) -> AttributedTap:
    return AttributedTap(
        tap.device_id, tap.device_seq, tap.credential_id, account_id, tap.at, tap.route_id,
        tap.stop_id, tap.kind, tap.step,
    )  # fmt: skip
