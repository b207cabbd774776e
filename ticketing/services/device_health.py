"""Use cases of device health: keep a device's heartbeat, and judge every device's state and
alarms from its heartbeat, its journal uploads and the deny list (`ticketing.device_health`).

    await record_heartbeat(uows, "gate-m2a-03-1", Heartbeat(software_version="2.4.1", ...))
    page = await device_health_page(uows, RegistryQuery(lot="hn-vincom"), policy)
    counts = await health_counts(uows, policy)   # devices by state, alarms by kind
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ticketing.device_health import (
    DEFAULT_RULES,
    AlarmKind,
    DeviceHealth,
    DeviceState,
    HealthRules,
    Heartbeat,
    HeartbeatRecord,
    Observations,
    judge,
)
from ticketing.devices import DevicePolicy, DeviceRecord
from ticketing.errors import UnknownDevice
from ticketing.stores.device_registry import RegistryQuery
from ticketing.stores.devices import DeviceActivity
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

SCAN_PAGE = 1000  # devices judged per round trip when counting them all


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceReport:
    """A device's judged health and what its journal uploads show (None: none yet)."""

    health: DeviceHealth
    activity: DeviceActivity | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCounts:
    """Devices by state and alarms by kind, every state and kind present (0 if none)."""

    as_of: datetime
    states: dict[DeviceState, int]
    alarms: dict[AlarmKind, int]


async def record_heartbeat(
    uows: UnitOfWorkFactory, device_id: str, heartbeat: Heartbeat
) -> HeartbeatRecord:
    """Keep `heartbeat` as the device's latest, received now."""

    async def use_case(uow: UnitOfWork) -> HeartbeatRecord:
        if await uow.device_registry.get(device_id) is None:
            raise UnknownDevice(f"no device {device_id!r} is registered")
        now = uow.clock()
        await uow.device_health.record(device_id, heartbeat, now)
        return HeartbeatRecord(device_id=device_id, heartbeat=heartbeat, received_at=now)

    return await run_in_uow(uows, use_case)


async def _reports(
    uow: UnitOfWork,
    devices: Sequence[DeviceRecord],
    policy: DevicePolicy,
    rules: HealthRules,
    now: datetime,
) -> list[DeviceReport]:
    ids = [d.device_id for d in devices]
    if not ids:
        return []
    beats = await uow.device_health.latest(ids)
    activity = {a.device_id: a for a in await uow.devices.activity(ids)}
    held = [
        b.heartbeat.deny_list_version
        for b in beats.values()
        if b.heartbeat.deny_list_version is not None
    ]
    outdated = await uow.device_health.deny_list_outdated_since(held)
    conflicts = await uow.device_health.conflicts(ids)
    refusals = await uow.device_health.refusals_since(ids, now - rules.refusal_window)
    reports = []
    for device in devices:
        beat = beats.get(device.device_id)
        use = activity.get(device.device_id)
        version = None if beat is None else beat.heartbeat.deny_list_version
        conflict = conflicts.get(device.device_id)
        seen = Observations(
            heartbeat=beat,
            last_upload_at=None if use is None else use.last_upload_at,
            journal_gaps=0 if use is None else max(use.missing, 0),
            conflicts=0 if conflict is None else conflict.records,
            last_conflict_at=None if conflict is None else conflict.last_at,
            recent_refusals=refusals.get(device.device_id, 0),
            deny_list_outdated_since=None if version is None else outdated.get(version),
        )
        reports.append(DeviceReport(health=judge(device, seen, policy, now, rules), activity=use))
    return reports


async def device_health_page(
    uows: UnitOfWorkFactory,
    query: RegistryQuery,
    policy: DevicePolicy,
    rules: HealthRules = DEFAULT_RULES,
) -> list[DeviceReport]:
    """A page of the registry (`query`), each device with its state, alarms and uploads."""
    async with uows() as uow:
        devices = await uow.device_registry.page(query)
        return await _reports(uow, devices, policy, rules, uow.clock())


async def health_counts(
    uows: UnitOfWorkFactory, policy: DevicePolicy, rules: HealthRules = DEFAULT_RULES
) -> HealthCounts:
    """Every registered device judged: how many are in each state, how many alarms of each
    kind sound (what `GET /metrics` exports)."""
    states: Counter[DeviceState] = Counter(dict.fromkeys(DeviceState, 0))
    alarms: Counter[AlarmKind] = Counter(dict.fromkeys(AlarmKind, 0))
    async with uows() as uow:
        now = uow.clock()
        after: str | None = None
        while True:
            devices = await uow.device_registry.page(RegistryQuery(after=after, limit=SCAN_PAGE))
            for report in await _reports(uow, devices, policy, rules, now):
                states[report.health.state] += 1
                alarms.update(alarm.kind for alarm in report.health.alarms)
            if len(devices) < SCAN_PAGE:
                break
            after = devices[-1].device_id
    return HealthCounts(as_of=now, states=dict(states), alarms=dict(alarms))
