"""Operator API (Auth.OPERATOR) for devices: register, list and revoke gates, validators and
barriers, as `faregate devices` does at the command line.

- `POST /api/v1/operator/devices` `{"device_id", "kind", "stop_id" | "route_id" | "lot_id",
  "direction"?, "valid_hours"?}`: register a device bound to a place that exists (or a
  pending or revoked one again); the answer carries its one-time enrolment code and expiry.
- `GET /api/v1/operator/devices?search=&kind=&status=&station=&lot=&limit=&after=`: devices by
  id, a page at a time (`next` is the `after` of the following page), each with its binding,
  registration and what its uploads show (records, the highest sequence number and how many
  below it are missing, the newest tap, the last upload); its state (online, late, offline,
  revoked, pending) from when it was last heard of against the heartbeat interval, what its
  last heartbeat says it holds, and its alarms (`ticketing.services.device_health`).
- `POST /api/v1/operator/devices/{device_id}/revoke` `{"reason"?}`: refuse the device from
  its next request on, on every server process.
- `GET /api/v1/operator/refusals?since=&device=&stop=`: the decisions gates and validators
  refused (uploaded in their journals) since `since` (default: the last 24 hours), counted
  per device, stop and reason.

Registering and revoking are in the audit log under the signed-in operator.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import msgspec

from faregate.api.context import CONFIG, ENGINE, PRICING_FEED, UOWS
from faregate.api.errors import Problem
from faregate.api.registry import Auth, Call, RouteRegistry
from parking.services import device_places
from parking.unit_of_work import ParkingUnitOfWorkFactory
from ticketing.audit import Actor
from ticketing.device_health import AlarmKind, DeviceState
from ticketing.devices import (
    DEVICE_ID,
    Binding,
    DeviceKind,
    Direction,
    RegistrationStatus,
)
from ticketing.services.device_health import DeviceReport, device_health_page
from ticketing.services.devices import (
    RegistryQuery,
    add_device,
    revoke_device,
    station_stops,
)
from ticketing.services.journal import refusal_counts

routes = RouteRegistry()

DeviceId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
PlaceId = Annotated[str, msgspec.Meta(pattern=r"^[^\x00-\x20\x7f]{1,100}$")]
MAX_PAGE = 500


class DeviceRegistration(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    device_id: DeviceId
    kind: DeviceKind
    stop_id: PlaceId | None = None
    route_id: PlaceId | None = None
    lot_id: PlaceId | None = None
    direction: Direction | None = None
    valid_hours: Annotated[int, msgspec.Meta(ge=1, le=720)] = 24


class EnrolmentCodeDocument(msgspec.Struct, kw_only=True):
    """The one-time code for the device's technician; shown once, stored only hashed."""

    device_id: str
    kind: DeviceKind
    enrolment_code: str
    expires_at: datetime
    stop_id: str | None
    route_id: str | None
    lot_id: str | None
    direction: Direction | None


class DevicesQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    search: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    kind: DeviceKind | None = None
    status: RegistrationStatus | None = None
    station: PlaceId | None = None
    lot: PlaceId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = 50
    after: DeviceId | None = None


class FaultDocument(msgspec.Struct, kw_only=True):
    code: str
    detail: str | None
    since: datetime | None


class HoldsDocument(msgspec.Struct, kw_only=True):
    """What the device's last heartbeat says it holds and how it is."""

    reported_at: datetime
    software_version: str
    config_version: str | None
    key_set_version: str | None
    deny_list_version: int | None
    records_waiting: int
    oldest_waiting_seconds: int | None
    faults: list[FaultDocument]


class AlarmDocument(msgspec.Struct, kw_only=True):
    kind: AlarmKind
    detail: str


class DeviceDocument(msgspec.Struct, kw_only=True):
    device_id: str
    kind: DeviceKind
    stop_id: str | None
    route_id: str | None
    lot_id: str | None
    direction: Direction | None
    status: RegistrationStatus
    added_at: datetime
    code_expires_at: datetime | None
    enrolled_at: datetime | None
    revoked_at: datetime | None
    # What its journal uploads show; None until it has uploaded taps.
    records: int | None
    last_seq: int | None
    missing_sequence_numbers: int | None
    last_tap_at: datetime | None
    last_upload_at: datetime | None
    seconds_since_upload: float | None
    journal_lag_seconds: float | None
    # Its health: the state judged now, when it was last heard of, its last heartbeat.
    state: DeviceState
    last_seen_at: datetime | None
    holds: HoldsDocument | None  # None: no heartbeat yet
    alarms: list[AlarmDocument]


class DeviceList(msgspec.Struct, kw_only=True):
    as_of: datetime
    devices: list[DeviceDocument]
    next: str | None  # `after` of the following page; None on the last


class RevokeRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None


class RevokedDocument(msgspec.Struct, kw_only=True):
    device_id: str
    status: RegistrationStatus
    revoked_at: datetime | None
    changed: bool  # False: it was revoked already


DEVICE_PATH_PARAMETER = {
    "name": "device_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
}


@routes.route(
    "POST", "/api/v1/operator/devices", summary="Register a device; get its enrolment code",
    tag="operator", auth=Auth.OPERATOR, body=DeviceRegistration,
    response=EnrolmentCodeDocument, errors=[409],
)  # fmt: skip
async def post_device(call: Call) -> EnrolmentCodeDocument:
    body = call.body_as(DeviceRegistration)
    app = call.app
    parking = ParkingUnitOfWorkFactory(app[ENGINE], app[CONFIG].clock)
    binding = Binding(
        kind=body.kind, stop_id=body.stop_id, route_id=body.route_id,
        lot_id=body.lot_id, direction=body.direction,
    )  # fmt: skip
    enrolment = await add_device(
        app[UOWS], body.device_id, binding,
        places=await device_places(parking, app[PRICING_FEED]),
        by=Actor.of(call.user), valid_for=timedelta(hours=body.valid_hours),
    )  # fmt: skip
    return EnrolmentCodeDocument(
        device_id=body.device_id,
        kind=binding.kind,
        enrolment_code=enrolment.code,
        expires_at=enrolment.expires_at,
        stop_id=binding.stop_id,
        route_id=binding.route_id,
        lot_id=binding.lot_id,
        direction=binding.direction,
    )


def _holds(report: DeviceReport) -> HoldsDocument | None:
    stored = report.health.heartbeat
    if stored is None:
        return None
    beat = stored.heartbeat
    return HoldsDocument(
        reported_at=stored.received_at,
        software_version=beat.software_version,
        config_version=beat.config_version,
        key_set_version=beat.key_set_version,
        deny_list_version=beat.deny_list_version,
        records_waiting=beat.records_waiting,
        oldest_waiting_seconds=beat.oldest_waiting_seconds,
        faults=[FaultDocument(code=f.code, detail=f.detail, since=f.since) for f in beat.faults],
    )


def _document(report: DeviceReport, now: datetime) -> DeviceDocument:
    device, use, health = report.health.device, report.activity, report.health
    binding = device.binding
    return DeviceDocument(
        device_id=device.device_id,
        kind=binding.kind,
        stop_id=binding.stop_id,
        route_id=binding.route_id,
        lot_id=binding.lot_id,
        direction=binding.direction,
        status=device.status,
        added_at=device.added_at,
        code_expires_at=device.code_expires_at,
        enrolled_at=device.enrolled_at,
        revoked_at=device.revoked_at,
        records=None if use is None else use.records,
        last_seq=None if use is None else use.last_seq,
        missing_sequence_numbers=None if use is None else use.missing,
        last_tap_at=None if use is None else use.last_tap_at,
        last_upload_at=None if use is None else use.last_upload_at,
        seconds_since_upload=None if use is None else (now - use.last_upload_at).total_seconds(),
        journal_lag_seconds=None
        if use is None
        else (use.last_upload_at - use.last_tap_at).total_seconds(),
        state=health.state,
        last_seen_at=health.last_seen_at,
        holds=_holds(report),
        alarms=[AlarmDocument(kind=a.kind, detail=a.detail) for a in health.alarms],
    )


@routes.route(
    "GET", "/api/v1/operator/devices", summary="Devices: binding, registration, uploads",
    tag="operator", auth=Auth.OPERATOR, query=DevicesQuery, response=DeviceList,
)  # fmt: skip
async def get_devices(call: Call) -> DeviceList:
    query = call.query_as(DevicesQuery)
    app = call.app
    now = app[CONFIG].clock()
    stops = None if query.station is None else station_stops(app[PRICING_FEED], query.station)
    reports = await device_health_page(
        app[UOWS],
        RegistryQuery(
            search=query.search, kind=query.kind, status=query.status, stops=stops,
            lot=query.lot, after=query.after, limit=query.limit,
        ),
        app[CONFIG].device_policy,
    )  # fmt: skip
    return DeviceList(
        as_of=now,
        devices=[_document(report, now) for report in reports],
        next=reports[-1].health.device.device_id if len(reports) == query.limit else None,
    )


@routes.route(
    "POST", "/api/v1/operator/devices/{device_id}/revoke", summary="Revoke a device",
    tag="operator", auth=Auth.OPERATOR, body=RevokeRequest, response=RevokedDocument,
    errors=[404], parameters=[DEVICE_PATH_PARAMETER],
)  # fmt: skip
async def post_revoke(call: Call) -> RevokedDocument:
    device_id = call.request.match_info["device_id"]
    if not DEVICE_ID.fullmatch(device_id):
        raise Problem(404, "unknown-device", "Unknown device", f"no device {device_id[:80]!r}")
    reason = call.body_as(RevokeRequest).reason
    device, changed = await revoke_device(
        call.app[UOWS], device_id, by=Actor.of(call.user), reason=reason
    )
    return RevokedDocument(
        device_id=device.device_id,
        status=device.status,
        revoked_at=device.revoked_at,
        changed=changed,
    )


class RefusalsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    since: datetime | None = None  # default: the last 24 hours
    device: DeviceId | None = None
    stop: PlaceId | None = None


class RefusalCountDocument(msgspec.Struct, kw_only=True):
    device_id: str
    stop_id: str | None
    reason: str
    count: int


class RefusalCounts(msgspec.Struct, kw_only=True):
    since: datetime
    counts: list[RefusalCountDocument]


@routes.route(
    "GET", "/api/v1/operator/refusals",
    summary="Decisions devices refused, counted per device, stop and reason",
    tag="operator", auth=Auth.OPERATOR, query=RefusalsQuery, response=RefusalCounts,
)  # fmt: skip
async def get_refusals(call: Call) -> RefusalCounts:
    query = call.query_as(RefusalsQuery)
    since = query.since or call.app[CONFIG].clock() - timedelta(hours=24)
    if since.tzinfo is None:
        raise Problem(422, "validation", "Invalid query", "`since` needs a UTC offset")
    counts = await refusal_counts(call.app[UOWS], since, device_id=query.device, stop_id=query.stop)
    return RefusalCounts(
        since=since,
        counts=[
            RefusalCountDocument(
                device_id=c.device_id, stop_id=c.stop_id, reason=c.reason, count=c.count
            )
            for c in counts
        ],
    )
