"""The audit log's values: who did what to which record, when, with the before and after.

No I/O: stored (append-only) by `ticketing.stores.audit`, written by the use cases through
`ticketing.services.audit.record` in their own unit of work, so an action and its audit line
commit together or not at all.

    entry = AuditEntry(
        at=now, actor=Actor.of(user), action=AuditAction.USER_ADDED,
        target=Target(TargetKind.USER, "alice"), after={"role": "finance"},
    )

A new kind of action or target is one line in `AuditAction` or `TargetKind`: both are stored
as their text, so neither needs a migration.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ticketing.errors import InvalidAuditEntry, InvalidAuditQuery
from ticketing.service_day import require_aware
from ticketing.users import ApiUser, UserRole

MAX_NAME = 64  # an actor's name: a username, or an administrator's login
MAX_TARGET_ID = 200
MAX_REASON = 2000
MAX_SNAPSHOT = 64 * 1024  # before/after, as JSON text
DEFAULT_PAGE = 50
MAX_PAGE = 500
_CURSOR = re.compile(r"(-?\d{1,20})\.(\d{1,20})")


class AuditAction(enum.StrEnum):
    """What a member of staff (or an administrator at the command line) did, and the few
    things a passenger does that someone may later need to explain (moving the pass)."""

    SIGN_IN = "sign-in"
    SIGN_OUT = "sign-out"
    USER_ADDED = "user-added"
    SETTLEMENT_STARTED = "settlement-started"
    SETTLEMENT_PREPARED = "settlement-prepared"
    SETTLEMENT_APPROVED = "settlement-approved"
    REFUND = "refund"
    EXCEPTION_RESOLVED = "exception-resolved"
    DEVICE_ADDED = "device-added"
    DEVICE_REVOKED = "device-revoked"
    TARIFF_CHANGED = "tariff-changed"
    LOT_CHANGED = "lot-changed"
    PERMIT_SOLD = "permit-sold"
    CASE_UPDATED = "case-updated"
    BARRIER_OPENED = "barrier-opened"
    # A passenger's own acts on their pass (the account's history; the move limit counts them).
    PASS_MOVED = "pass-moved"
    PHONE_LOST = "phone-lost"
    TAP_RESOLVED = "tap-resolved"  # a quarantined tap attributed or written off


class TargetKind(enum.StrEnum):
    """What kind of record an action was done to."""

    USER = "user"
    SERVICE_DAY = "service-day"
    PAYMENT = "payment"
    EXCEPTION = "exception"
    DEVICE = "device"
    TARIFF = "tariff"
    LOT = "lot"
    PERMIT = "permit"
    CASE = "case"
    BARRIER = "barrier"
    ACCOUNT = "account"
    QUARANTINED_TAP = "quarantined-tap"


class ActorRole(enum.StrEnum):
    """An API user's role (`ticketing.users.UserRole`), or an administrator: someone at the
    server's command line (`faregate users add`, `faregate settle`), named by their login."""

    PASSENGER = "passenger"
    OPERATOR = "operator"
    FINANCE = "finance"
    INSPECTOR = "inspector"
    ADMINISTRATOR = "administrator"

    @classmethod
    def of(cls, role: UserRole) -> ActorRole:
        return cls(role.value)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a username (or an administrator's login) and the role they acted in."""

    name: str
    role: ActorRole

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= MAX_NAME or not self.name.isprintable():
            raise InvalidAuditEntry(
                f"an actor's name has 1-{MAX_NAME} printable characters, not {self.name[:80]!r}"
            )

    @classmethod
    def of(cls, user: ApiUser) -> Actor:
        """The signed-in API user."""
        return cls(user.username, ActorRole.of(user.role))

    @classmethod
    def administrator(cls, login: str) -> Actor:
        """Someone at the server's command line, by their login name."""
        return cls(login, ActorRole.ADMINISTRATOR)


@dataclass(frozen=True, slots=True)
class Target:
    """The record acted on: its kind and its id (a username, a day, a payment id...)."""

    kind: TargetKind
    id: str

    def __post_init__(self) -> None:
        if not 0 < len(self.id) <= MAX_TARGET_ID or not self.id.isprintable():
            raise InvalidAuditEntry(
                f"a target id has 1-{MAX_TARGET_ID} printable characters, not {self.id[:80]!r}"
            )


Snapshot = Mapping[str, Any]
"""A record as it was before or after the action: any JSON object."""


def _check_snapshot(value: Snapshot | None, what: str) -> None:
    if value is None:
        return
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise InvalidAuditEntry(f"{what} is not a JSON object: {error}") from None
    if not text.startswith("{"):
        raise InvalidAuditEntry(f"{what} must be a JSON object, not {text[:40]}")
    if len(text) > MAX_SNAPSHOT:
        raise InvalidAuditEntry(f"{what} is {len(text)} characters of JSON; at most {MAX_SNAPSHOT}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One line of the audit log; `id` is None until the store has appended it."""

    at: datetime
    actor: Actor
    action: AuditAction
    target: Target
    before: Snapshot | None = None
    after: Snapshot | None = None
    reason: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        require_aware(self.at, "an audit entry's time")
        _check_snapshot(self.before, "before")
        _check_snapshot(self.after, "after")
        if self.reason is not None and not 0 < len(self.reason) <= MAX_REASON:
            raise InvalidAuditEntry(f"a reason has 1-{MAX_REASON} characters")

    def cursor(self) -> str:
        """Where the page after this entry starts (newest first)."""
        if self.id is None:
            raise InvalidAuditEntry("an entry not yet stored has no place in the log")
        return encode_cursor(self.at, self.id)


def encode_cursor(at: datetime, entry_id: int) -> str:
    micros = int(at.timestamp()) * 1_000_000 + at.microsecond
    return f"{micros}.{entry_id}"


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the log: entries strictly older than (at, id) come after it."""

    at_micros: int
    entry_id: int

    @classmethod
    def parse(cls, text: str) -> Cursor:
        match = _CURSOR.fullmatch(text)
        if match is None:
            raise InvalidAuditQuery(
                f"cursor {text[:40]!r} is not one this log gave (take `next` from a page)"
            )
        return cls(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditQuery:
    """Filters on the log, all optional and combined: entries by `actor` (a name), of
    `action`, on a target of `target_kind` (and `target_id`), at or after `since` and before
    `until`; `limit` entries a page, newest first, starting after `cursor` (a page's `next`)."""

    actor: str | None = None
    action: AuditAction | None = None
    target_kind: TargetKind | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_PAGE
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidAuditQuery(f"limit is 1 to {MAX_PAGE}, not {self.limit}")
        for at, what in ((self.since, "since"), (self.until, "until")):
            if at is not None and (at.tzinfo is None or at.utcoffset() is None):
                raise InvalidAuditQuery(f"{what} needs a time zone (e.g. 2026-12-01T00:00:00Z)")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidAuditQuery("since must be before until")
        if self.target_id is not None and self.target_kind is None:
            raise InvalidAuditQuery("a target id needs its target kind")
        if self.cursor is not None:
            Cursor.parse(self.cursor)

    @property
    def position(self) -> Cursor | None:
        return None if self.cursor is None else Cursor.parse(self.cursor)


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Entries newest first; `next` is the cursor of the following page, None on the last."""

    entries: tuple[AuditEntry, ...]
    next: str | None
