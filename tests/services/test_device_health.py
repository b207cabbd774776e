"""A device's state and alarms judged from its heartbeat, uploads and the deny list
(`ticketing.device_health.judge`), on plain values; and heartbeats that cannot be a device's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketing.device_health import (
    AlarmKind,
    DeviceState,
    Fault,
    Heartbeat,
    HeartbeatRecord,
    Observations,
    judge,
)
from ticketing.devices import (
    Binding,
    DeviceKind,
    DevicePolicy,
    DeviceRecord,
    RegistrationStatus,
)
from ticketing.errors import InvalidHeartbeat

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
POLICY = DevicePolicy(accepted_products=("PAYG",), heartbeat_interval=timedelta(seconds=60))


def _device(status: RegistrationStatus = RegistrationStatus.ACTIVE) -> DeviceRecord:
    return DeviceRecord(
        device_id="gate-1",
        binding=Binding(kind=DeviceKind.GATE, stop_id="m2a_01"),
        status=status,
        generation=1,
        added_at=NOW - timedelta(days=30),
        code_expires_at=None,
        enrolled_at=NOW - timedelta(days=29),
        revoked_at=None,
        public_key=None,
    )


def _beat(ago: timedelta, **fields: object) -> HeartbeatRecord:
    heartbeat = Heartbeat(software_version="1.0", deny_list_version=7, **fields)  # type: ignore[arg-type]
    return HeartbeatRecord(device_id="gate-1", heartbeat=heartbeat, received_at=NOW - ago)


@pytest.mark.parametrize(
    ("silent", "state"),
    [
        (timedelta(seconds=30), DeviceState.ONLINE),
        (timedelta(seconds=120), DeviceState.ONLINE),
        (timedelta(seconds=121), DeviceState.LATE),
        (timedelta(minutes=10), DeviceState.LATE),
        (timedelta(minutes=11), DeviceState.OFFLINE),
    ],
)
def test_state_from_the_last_heartbeat_against_the_interval(
    silent: timedelta, state: DeviceState
) -> None:
    health = judge(_device(), Observations(heartbeat=_beat(silent)), POLICY, NOW)
    assert health.state is state
    assert health.alarms == ()  # offline 11 min is not yet offline too long


def test_an_upload_counts_as_being_heard_of() -> None:
    seen = Observations(heartbeat=_beat(timedelta(hours=3)), last_upload_at=NOW)
    assert judge(_device(), seen, POLICY, NOW).state is DeviceState.ONLINE


def test_offline_too_long_and_never_heard_of() -> None:
    long = judge(_device(), Observations(heartbeat=_beat(timedelta(hours=2))), POLICY, NOW)
    assert long.state is DeviceState.OFFLINE
    assert [(a.kind, a.detail) for a in long.alarms] == [
        (AlarmKind.OFFLINE_TOO_LONG, "not heard of for 2 h 0 min")
    ]


def test_revoked_and_pending_devices_have_no_alarms() -> None:
    seen = Observations(heartbeat=_beat(timedelta(days=3), faults=(Fault(code="x"),)))
    revoked = judge(_device(RegistrationStatus.REVOKED), seen, POLICY, NOW)
    pending = judge(_device(RegistrationStatus.PENDING), Observations(), POLICY, NOW)
    assert (revoked.state, revoked.alarms) == (DeviceState.REVOKED, ())
    assert (pending.state, pending.alarms) == (DeviceState.PENDING, ())


def test_journal_gaps_stale_deny_list_waiting_records_and_faults() -> None:
    beat = _beat(
        timedelta(seconds=5),
        records_waiting=40,
        oldest_waiting_seconds=3600,
        faults=(Fault(code="nfc.reader"), Fault(code="printer.paper_low")),
    )
    seen = Observations(
        heartbeat=beat, journal_gaps=3, deny_list_outdated_since=NOW - timedelta(hours=7)
    )
    health = judge(_device(), seen, POLICY, NOW)
    assert health.state is DeviceState.ONLINE
    assert [(a.kind, a.detail) for a in health.alarms] == [
        (AlarmKind.JOURNAL_GAP, "3 sequence numbers missing below its highest"),
        (AlarmKind.STALE_DENY_LIST, "version 7 out of date for 7 h 0 min"),
        (AlarmKind.RECORDS_WAITING, "40 records waiting, the oldest for 60 min"),
        (AlarmKind.DEVICE_FAULT, "nfc.reader, printer.paper_low"),
    ]


SENT_AGAIN = "2 records sent again with another body, the last"


@pytest.mark.parametrize(
    ("last_conflict", "refusals", "alarms"),
    [
        (timedelta(hours=3), 30, [
            (AlarmKind.CONFLICTING_RECORDS, f"{SENT_AGAIN} 3 h 0 min ago"),
            (AlarmKind.REFUSAL_SPIKE, "30 refusals in the last 15 min"),
        ]),
        (timedelta(hours=24), 29, [
            (AlarmKind.CONFLICTING_RECORDS, f"{SENT_AGAIN} 24 h 0 min ago"),
        ]),
        (timedelta(hours=24, seconds=1), 29, []),
    ],
)  # fmt: skip
def test_conflicting_records_of_the_last_day_and_a_spike_of_refusals(
    last_conflict: timedelta, refusals: int, alarms: list[tuple[AlarmKind, str]]
) -> None:
    seen = Observations(
        heartbeat=_beat(timedelta(seconds=5)),
        conflicts=2,
        last_conflict_at=NOW - last_conflict,
        recent_refusals=refusals,
    )
    assert [(a.kind, a.detail) for a in judge(_device(), seen, POLICY, NOW).alarms] == alarms


def test_a_deny_list_behind_for_less_than_its_maximum_age_is_no_alarm() -> None:
    seen = Observations(
        heartbeat=_beat(timedelta(seconds=5), records_waiting=1, oldest_waiting_seconds=60),
        deny_list_outdated_since=NOW - timedelta(hours=5),
    )
    assert judge(_device(), seen, POLICY, NOW).alarms == ()


def test_no_deny_list_held_is_stale() -> None:
    beat = HeartbeatRecord(
        device_id="gate-1", heartbeat=Heartbeat(software_version="1"), received_at=NOW
    )
    alarms = judge(_device(), Observations(heartbeat=beat), POLICY, NOW).alarms
    assert [(a.kind, a.detail) for a in alarms] == [
        (AlarmKind.STALE_DENY_LIST, "holds no deny list")
    ]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"software_version": ""}, "printable"),
        ({"software_version": "a\tb"}, "printable"),
        ({"software_version": "a "}, "printable"),
        ({"software_version": "1", "key_set_version": "a b"}, "printable"),
        ({"software_version": "1", "config_version": "x" * 65}, "config_version"),
        ({"software_version": "1", "records_waiting": 2}, "oldest_waiting_seconds"),
        ({"software_version": "1", "oldest_waiting_seconds": 2}, "without records"),
        ({"software_version": "1", "deny_list_version": -1}, "deny_list_version"),
        ({"software_version": "1", "records_waiting": 2**63}, "records_waiting"),
        ({"software_version": "1", "faults": (Fault(code="a"), Fault(code="a"))}, "once"),
        ({"software_version": "1", "faults": tuple(Fault(code=f"f{i}") for i in range(33))}, "32"),
        ({"software_version": "1", "device_time": datetime(2026, 1, 1)}, "UTC offset"),
    ],
)
def test_heartbeats_that_cannot_be_a_devices(fields: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidHeartbeat, match=says):
        Heartbeat(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["", "Upper", "-dash", "a b", "x" * 65])
def test_fault_codes(code: str) -> None:
    with pytest.raises(InvalidHeartbeat, match="fault code"):
        Fault(code=code)


@pytest.mark.parametrize(
    "at", [datetime(1999, 12, 31, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)]
)
def test_times_from_a_broken_clock(at: datetime) -> None:
    with pytest.raises(InvalidHeartbeat, match="outside"):
        Fault(code="a", since=at)
    with pytest.raises(InvalidHeartbeat, match="outside"):
        Heartbeat(software_version="1", device_time=at)
