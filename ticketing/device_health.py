"""A device's health: what its heartbeat says, and the state and alarms the backend judges from
it. No I/O; heartbeats are stored by `ticketing.stores.device_health`.

A device reports on the heartbeat interval of its configuration (`POST /device/v1/heartbeat`):
its software and configuration versions, the key set and deny list it holds, how many journal
records wait to be uploaded and how old the oldest is, and its faults. The backend keeps the
latest heartbeat of each device and judges, at any moment:

- its **state**: `pending` (registered, not enrolled), `revoked`, or from the time it was last
  heard of (its last heartbeat, upload or enrolment) against the heartbeat interval: `online`
  within `late_after_beats` intervals, `late` within `offline_after_beats`, else `offline`;
- its **alarms**: offline for longer than `offline_alarm_after`; gaps in its journal's
  sequence numbers (seen on upload); records it uploaded again with another body than the one
  stored (conflicting), within `conflict_alarm_for`; a deny list out of date for longer than
  the policy's maximum age (or none held); journal records waiting longer than
  `waiting_alarm_after`; at least `refusal_spike_at` refused decisions dated within the last
  `refusal_window`; faults it reports.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ticketing.devices import DevicePolicy, DeviceRecord, RegistrationStatus
from ticketing.errors import InvalidHeartbeat

# Versions a device names: printable ASCII without spaces (a semver, a hash, an ETag's value).
VERSION = re.compile(r"[\x21-\x7e]{1,64}")
# A software version may read as its maker writes it ("gate-fw 2.4.1"): spaces inside only.
SOFTWARE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?")
FAULT_CODE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MAX_FAULTS = 32
MAX_FAULT_DETAIL = 500
MAX_COUNT = 2**63 - 1
# Times the database stores in every backend and timezone; outside them a device clock is broken.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _check_time(name: str, value: datetime | None) -> None:
    if value is None:
        return
    if value.tzinfo is None:
        raise InvalidHeartbeat(f"{name} needs a UTC offset")
    if not EARLIEST <= value < LATEST:
        raise InvalidHeartbeat(
            f"{name} {value.isoformat()} is outside {EARLIEST.year}..{LATEST.year}"
        )


class DeviceState(enum.StrEnum):
    ONLINE = "online"
    LATE = "late"  # a heartbeat or two missed
    OFFLINE = "offline"  # not heard of for many intervals, or never since enrolment
    REVOKED = "revoked"
    PENDING = "pending"  # registered, waiting for its enrolment


class AlarmKind(enum.StrEnum):
    OFFLINE_TOO_LONG = "offline_too_long"
    JOURNAL_GAP = "journal_gap"
    STALE_DENY_LIST = "stale_deny_list"
    RECORDS_WAITING = "records_waiting"
    DEVICE_FAULT = "device_fault"
    CONFLICTING_RECORDS = "conflicting_records"
    REFUSAL_SPIKE = "refusal_spike"


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """A fault the device reports: a short code of its maker's (`printer_jam`, `nfc.reader`)
    and optionally what and since when."""

    code: str
    detail: str | None = None
    since: datetime | None = None

    def __post_init__(self) -> None:
        if not FAULT_CODE.fullmatch(self.code):
            raise InvalidHeartbeat(
                f"fault code {self.code[:80]!r} must be 1-64 of a-z 0-9 _ . - "
                "(starting with a letter or digit)"
            )
        if self.detail is not None and len(self.detail) > MAX_FAULT_DETAIL:
            raise InvalidHeartbeat(f"a fault's detail is at most {MAX_FAULT_DETAIL} characters")
        _check_time("a fault's since", self.since)


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """What a device reports of itself (all versions as it holds them; None: it holds none)."""

    software_version: str
    config_version: str | None = None
    key_set_version: str | None = None
    deny_list_version: int | None = None
    records_waiting: int = 0
    oldest_waiting_seconds: int | None = None  # age of the oldest record waiting
    faults: tuple[Fault, ...] = ()
    device_time: datetime | None = None  # the device's clock when it sent the heartbeat

    def __post_init__(self) -> None:
        if not SOFTWARE.fullmatch(self.software_version):
            raise InvalidHeartbeat(
                f"software_version {self.software_version[:80]!r} must be 1-64 printable "
                "ASCII characters, no spaces at either end"
            )
        for name in ("config_version", "key_set_version"):
            value = getattr(self, name)
            if value is not None and not VERSION.fullmatch(value):
                raise InvalidHeartbeat(
                    f"{name} {value[:80]!r} must be 1-64 printable characters without spaces"
                )
        for name in ("deny_list_version", "records_waiting", "oldest_waiting_seconds"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_COUNT:
                raise InvalidHeartbeat(f"{name} must be 0..2**63-1, not {value}")
        if self.records_waiting and self.oldest_waiting_seconds is None:
            raise InvalidHeartbeat(
                f"{self.records_waiting} records wait: give oldest_waiting_seconds too"
            )
        if not self.records_waiting and self.oldest_waiting_seconds:
            raise InvalidHeartbeat("oldest_waiting_seconds without records waiting")
        if len(self.faults) > MAX_FAULTS:
            raise InvalidHeartbeat(f"at most {MAX_FAULTS} faults, not {len(self.faults)}")
        codes = [fault.code for fault in self.faults]
        if len(set(codes)) != len(codes):
            raise InvalidHeartbeat("each fault code is reported once")
        _check_time("device_time", self.device_time)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatRecord:
    """A device's latest heartbeat as the backend stored it."""

    device_id: str
    heartbeat: Heartbeat
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthRules:
    """When a device is late or offline (in heartbeat intervals) and when its alarms sound."""

    late_after_beats: int = 2
    offline_after_beats: int = 10
    offline_alarm_after: timedelta = timedelta(hours=1)
    waiting_alarm_after: timedelta = timedelta(minutes=30)
    conflict_alarm_for: timedelta = timedelta(hours=24)  # after the last conflicting record
    refusal_window: timedelta = timedelta(minutes=15)
    refusal_spike_at: int = 30  # refusals dated within the window


DEFAULT_RULES = HealthRules()


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: AlarmKind
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceHealth:
    """A device's judged health at `as_of`."""

    device: DeviceRecord
    state: DeviceState
    last_seen_at: datetime | None
    heartbeat: HeartbeatRecord | None
    alarms: tuple[Alarm, ...] = field(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Observations:
    """What the backend knows of a device besides its registry entry: its latest heartbeat,
    its last journal upload and the gaps in its journal's numbering, the records it sent again
    with another body (how many, the last when), its refusals dated within the rules'
    `refusal_window`, and since when the deny list version its heartbeat names has been out of
    date (None: it is current)."""

    heartbeat: HeartbeatRecord | None = None
    last_upload_at: datetime | None = None
    journal_gaps: int = 0
    conflicts: int = 0
    last_conflict_at: datetime | None = None
    recent_refusals: int = 0
    deny_list_outdated_since: datetime | None = None


def _seconds(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def judge(
    device: DeviceRecord,
    seen: Observations,
    policy: DevicePolicy,
    now: datetime,
    rules: HealthRules = DEFAULT_RULES,
) -> DeviceHealth:
    """The device's state and alarms at `now` (module docstring)."""
    heard = [
        t
        for t in (
            None if seen.heartbeat is None else seen.heartbeat.received_at,
            seen.last_upload_at,
            device.enrolled_at,
        )
        if t is not None
    ]
    last_seen = max(heard) if heard else None
    if device.status is RegistrationStatus.REVOKED:
        return DeviceHealth(
            device=device, state=DeviceState.REVOKED, last_seen_at=last_seen,
            heartbeat=seen.heartbeat,
        )  # fmt: skip
    if device.status is RegistrationStatus.PENDING:
        return DeviceHealth(
            device=device, state=DeviceState.PENDING, last_seen_at=last_seen,
            heartbeat=seen.heartbeat,
        )  # fmt: skip
    interval = max(policy.heartbeat_interval, timedelta(seconds=1))
    silent = now - last_seen if last_seen is not None else None
    if silent is None or silent > rules.offline_after_beats * interval:
        state = DeviceState.OFFLINE
    elif silent > rules.late_after_beats * interval:
        state = DeviceState.LATE
    else:
        state = DeviceState.ONLINE
    alarms: list[Alarm] = []
    if state is DeviceState.OFFLINE and (silent is None or silent > rules.offline_alarm_after):
        since = "never heard of" if silent is None else f"not heard of for {_seconds(silent)}"
        alarms.append(Alarm(AlarmKind.OFFLINE_TOO_LONG, since))
    if seen.journal_gaps > 0:
        alarms.append(
            Alarm(
                AlarmKind.JOURNAL_GAP,
                f"{seen.journal_gaps} sequence numbers missing below its highest",
            )
        )
    if (
        seen.last_conflict_at is not None
        and now - seen.last_conflict_at <= rules.conflict_alarm_for
    ):
        alarms.append(
            Alarm(
                AlarmKind.CONFLICTING_RECORDS,
                f"{seen.conflicts} record{'' if seen.conflicts == 1 else 's'} sent again with "
                "another body, the last "
                f"{_seconds(max(now - seen.last_conflict_at, timedelta()))} ago",
            )
        )
    if seen.recent_refusals >= rules.refusal_spike_at:
        alarms.append(
            Alarm(
                AlarmKind.REFUSAL_SPIKE,
                f"{seen.recent_refusals} refusals in the last {_seconds(rules.refusal_window)}",
            )
        )
    beat = None if seen.heartbeat is None else seen.heartbeat.heartbeat
    if beat is not None:
        if beat.deny_list_version is None:
            alarms.append(Alarm(AlarmKind.STALE_DENY_LIST, "holds no deny list"))
        elif seen.deny_list_outdated_since is not None:
            behind = now - seen.deny_list_outdated_since
            if behind > policy.max_deny_list_age:
                alarms.append(
                    Alarm(
                        AlarmKind.STALE_DENY_LIST,
                        f"version {beat.deny_list_version} out of date for {_seconds(behind)}",
                    )
                )
        waiting = beat.oldest_waiting_seconds
        if (
            beat.records_waiting
            and waiting is not None
            and timedelta(seconds=waiting) > rules.waiting_alarm_after
        ):
            alarms.append(
                Alarm(
                    AlarmKind.RECORDS_WAITING,
                    f"{beat.records_waiting} records waiting, the oldest for "
                    f"{_seconds(timedelta(seconds=waiting))}",
                )
            )
        if beat.faults:
            alarms.append(
                Alarm(AlarmKind.DEVICE_FAULT, ", ".join(fault.code for fault in beat.faults))
            )
    return DeviceHealth(
        device=device, state=state, last_seen_at=last_seen, heartbeat=seen.heartbeat,
        alarms=tuple(alarms),
    )  # fmt: skip
