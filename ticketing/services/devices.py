"""Use cases of devices: register, enrol, revoke and list them; the guard's key lookup; the
activity of every device that uploads journals.

    places = places_of(feed, lots=lot_ids)
    enrolment = await add_device(uows, "gate-m2a-03-1", Binding(kind=DeviceKind.GATE,
                                 stop_id="m2a_03"), places=places, by=actor)
    # enrolment.code goes to the technician installing the device, once
    enrolled = await enrol_device(uows, "gate-m2a-03-1", code, public_key, box=SecretBox(key))
    # enrolled.secret goes to the device, once; the registry keeps it sealed
    await revoke_device(uows, "gate-m2a-03-1", by=actor)

Registering and revoking are staff actions: each writes its audit line in its own transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.device_secrets import SecretBox, new_device_secret
from ticketing.devices import (
    DEFAULT_CODE_LIFETIME,
    Binding,
    DeviceKind,
    DevicePolicy,
    DeviceRecord,
    Places,
    RegistrationStatus,
    check_device_id,
    check_public_key,
    code_hash,
    code_lifetime,
    code_matches,
    new_enrolment_code,
    normalise_code,
)
from ticketing.errors import EnrolmentRefused, UnknownDevice
from ticketing.fares.feed import FareFeed
from ticketing.services.audit import record
from ticketing.services.passengers import PASS_HOLDER, PAY_AS_YOU_GO

# Re-exported: the entry points read and query the registry through these values.
from ticketing.stores.device_registry import DeviceKey as DeviceKey
from ticketing.stores.device_registry import RegistryQuery as RegistryQuery
from ticketing.stores.devices import DeviceActivity as DeviceActivity
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

_NOT_RECOGNISED = "device id or enrolment code not recognised"
CONFIG_FORMAT = "faregate-device-config/1"
# Devices accept the credentials the backend issues: pay as you go, or with a pass.
DEFAULT_POLICY = DevicePolicy(accepted_products=(PAY_AS_YOU_GO, PASS_HOLDER))


@dataclass(frozen=True, slots=True, kw_only=True)
class Enrolment:
    """A registered device and its one-time enrolment code (shown once, stored hashed)."""

    device: DeviceRecord
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolledDevice:
    """An enrolled device and its new signing secret (given to the device once)."""

    device: DeviceRecord
    secret: bytes


@dataclass(frozen=True, slots=True)
class DeviceConfiguration:
    """A device's configuration document (`faregate-device-config/1`, JSON-ready) and its
    version: what it holds is current while the versions match (the HTTP ETag)."""

    document: Mapping[str, Any]

    @property
    def version(self) -> str:
        return str(self.document["version"])


def configuration_version(document: Mapping[str, Any]) -> str:
    """SHA-256 (16 hex) of the document as canonical JSON, without its version and without
    the barrier part's `as_of` (when it was read, not what it says)."""
    content = {key: value for key, value in document.items() if key != "version"}
    barrier = content.get("barrier")
    if isinstance(barrier, Mapping):
        content["barrier"] = {key: value for key, value in barrier.items() if key != "as_of"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def configuration_of(
    device: DeviceRecord,
    feed: FareFeed,
    policy: DevicePolicy,
    *,
    barrier: Mapping[str, Any] | None = None,
) -> DeviceConfiguration:
    """The configuration of `device` under `policy`: its binding and place as the fare feed
    names it (a gate's stop, a validator's route), what it decides offline with and how often
    it uploads and reports; a barrier's lot and tariffs are `barrier`
    (`parking.services.barrier_configuration`, as JSON)."""
    binding = device.binding
    gtfs = feed.gtfs
    place: dict[str, Any]
    # A place the feed no longer has (a feed changed after registration) keeps its id only.
    if binding.kind is DeviceKind.GATE:
        assert binding.stop_id is not None  # a gate's binding has a stop
        stop = gtfs.stops.get(binding.stop_id)
        place = {"stop_id": binding.stop_id, "name": None if stop is None else stop.name}
    elif binding.kind is DeviceKind.VALIDATOR:
        assert binding.route_id is not None
        route = gtfs.routes.get(binding.route_id)
        name = None if route is None else route.short_name or route.long_name
        place = {"route_id": binding.route_id, "name": name}
    else:
        place = {"lot_id": binding.lot_id}
    document: dict[str, Any] = {
        "format": CONFIG_FORMAT,
        "device_id": device.device_id,
        "kind": binding.kind.value,
        "binding": {
            "stop_id": binding.stop_id,
            "route_id": binding.route_id,
            "lot_id": binding.lot_id,
            "direction": None if binding.direction is None else binding.direction.value,
        },
        "place": place,
        "accepted_products": list(policy.accepted_products),
        # In a lot, passback is the session rule (no second entry without an exit): the
        # barrier's time window is off and the lot says hard or soft.
        "passback_seconds": 0
        if binding.kind is DeviceKind.BARRIER
        else int(policy.passback.total_seconds()),
        "totp_window": {"before": policy.totp_before, "after": policy.totp_after},
        "max_deny_list_age_seconds": int(policy.max_deny_list_age.total_seconds()),
        "stale_deny_list": policy.stale_deny_list.value,
        "upload_interval_seconds": int(policy.upload_interval.total_seconds()),
        "heartbeat_interval_seconds": int(policy.heartbeat_interval.total_seconds()),
        "barrier": None if barrier is None else dict(barrier),
    }
    document["version"] = configuration_version(document)
    return DeviceConfiguration(document)


def places_of(feed: FareFeed, lots: Collection[str]) -> Places:
    """The places devices may be bound to: the feed's stops and routes, and `lots`."""
    return Places(stops=feed.gtfs.stops.keys(), routes=feed.gtfs.routes.keys(), lots=lots)


def _snapshot(device: DeviceRecord) -> dict[str, object]:
    binding = device.binding
    return {
        "kind": binding.kind.value,
        "place": binding.place,
        "direction": None if binding.direction is None else binding.direction.value,
        "status": device.status.value,
        "generation": device.generation,
    }


async def add_device(
    uows: UnitOfWorkFactory,
    device_id: str,
    binding: Binding,
    *,
    places: Places,
    by: Actor,
    valid_for: timedelta = DEFAULT_CODE_LIFETIME,
) -> Enrolment:
    """Register `device_id` bound to a place that exists, or register a pending or revoked
    device again; returns its new one-time enrolment code. An enrolled device is refused
    (DeviceExists): revoke it first."""
    check_device_id(device_id)
    places.check(binding)
    lifetime = code_lifetime(valid_for)
    code = new_enrolment_code()

    async def use_case(uow: UnitOfWork) -> Enrolment:
        expires_at = uow.clock() + lifetime
        before, after = await uow.device_registry.register(
            device_id, binding, code_hash(device_id, code), expires_at
        )
        await record(
            uow, by, AuditAction.DEVICE_ADDED, Target(TargetKind.DEVICE, device_id),
            before=None if before is None else _snapshot(before),
            after={**_snapshot(after), "code_expires_at": expires_at.isoformat()},
        )  # fmt: skip
        return Enrolment(device=after, code=code, expires_at=expires_at)

    return await run_in_uow(uows, use_case)


async def revoke_device(
    uows: UnitOfWorkFactory, device_id: str, *, by: Actor, reason: str | None = None
) -> tuple[DeviceRecord, bool]:
    """Revoke a device: its secret and any pending code are destroyed and every request it
    signs is refused from the next one on. Returns the record and whether it changed (False:
    it was revoked already, and no audit line is written)."""

    async def use_case(uow: UnitOfWork) -> tuple[DeviceRecord, bool]:
        before = await uow.device_registry.get(device_id)
        if before is None:
            raise UnknownDevice(f"no device {device_id!r} is registered")
        after = await uow.device_registry.revoke(device_id)
        if after is None:
            return before, False
        await record(
            uow, by, AuditAction.DEVICE_REVOKED, Target(TargetKind.DEVICE, device_id),
            before=_snapshot(before), after=_snapshot(after), reason=reason,
        )  # fmt: skip
        return after, True

    return await run_in_uow(uows, use_case)


async def get_device(uows: UnitOfWorkFactory, device_id: str) -> DeviceRecord:
    async with uows() as uow:
        device = await uow.device_registry.get(device_id)
    if device is None:
        raise UnknownDevice(f"no device {device_id!r} is registered")
    return device


async def list_devices(uows: UnitOfWorkFactory, query: RegistryQuery) -> list[DeviceRecord]:
    async with uows() as uow:
        return await uow.device_registry.page(query)


async def enrol_device(
    uows: UnitOfWorkFactory,
    device_id: str,
    code: str,
    public_key: bytes,
    *,
    box: SecretBox,
) -> EnrolledDevice:
    """Exchange a pending device's one-time code for its own new secret (random, sealed under
    `box` before it is stored). A wrong, used or expired code raises EnrolmentRefused."""
    check_public_key(public_key)
    if normalise_code(code) is None:
        raise EnrolmentRefused(_NOT_RECOGNISED)

    async def use_case(uow: UnitOfWork) -> EnrolledDevice:
        now = uow.clock()
        device = await uow.device_registry.get(device_id)
        stored = await uow.device_registry.code_hash(device_id)
        if device is None:
            raise EnrolmentRefused(_NOT_RECOGNISED)
        if device.status is RegistrationStatus.ACTIVE:
            raise EnrolmentRefused(
                f"device {device_id} is enrolled already: a code works once (revoke the "
                "device and register it again for a new code)"
            )
        if stored is None or not code_matches(stored, device_id, code):
            raise EnrolmentRefused(_NOT_RECOGNISED)
        if device.code_expires_at is not None and device.code_expires_at <= now:
            raise EnrolmentRefused(
                f"the enrolment code of device {device_id} expired at "
                f"{device.code_expires_at.isoformat()}; register the device again for a new one"
            )
        generation = device.generation + 1
        secret = new_device_secret()
        enrolled = await uow.device_registry.enrol(
            device_id, stored, now,
            generation=generation,
            secret_sealed=box.seal(device_id, generation, secret),
            public_key=public_key,
        )  # fmt: skip
        if enrolled is None:  # another request used the code first
            raise EnrolmentRefused(f"the enrolment code of device {device_id} was used already")
        return EnrolledDevice(device=enrolled, secret=secret)

    return await run_in_uow(uows, use_case)


async def device_key(uows: UnitOfWorkFactory, device_id: str) -> DeviceKey | None:
    """The status and sealed secret of a device (None: never registered), read on every
    signed request so a revocation holds on every server process from the next request on."""
    async with uows() as uow:
        return await uow.device_registry.key(device_id)


async def device_activity(uows: UnitOfWorkFactory) -> list[DeviceActivity]:
    """Per device: records stored, highest sequence number, latest tap, latest upload."""
    async with uows() as uow:
        return await uow.devices.activity()


async def device_activity_of(
    uows: UnitOfWorkFactory, device_ids: Collection[str]
) -> dict[str, DeviceActivity]:
    """`device_activity` of these devices only (a page of the registry), by id."""
    if not device_ids:
        return {}
    async with uows() as uow:
        return {a.device_id: a for a in await uow.devices.activity(device_ids)}


def station_stops(feed: FareFeed, station: str) -> set[str]:
    """The stops of a station: the stop `station` itself and every stop whose parent it is."""
    return {
        stop.stop_id
        for stop in feed.gtfs.stops.values()
        if station in (stop.stop_id, stop.parent_station)
    }
