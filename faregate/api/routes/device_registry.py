"""Device API, a device's own life: enrol once, then (signed) fetch its configuration and its
sealed liveness keys, and report its health.

- `POST /device/v1/enrol` (unsigned: the device has no secret yet) `{"device_id",
  "enrolment_code", "public_key"}`: the one-time code an operator got from `faregate devices
  add` buys the device its own signing secret, once (`ticketing.services.devices.enrol_device`).
  The public key is the X25519 key the device generated; its liveness keys are sealed to it.

- `GET /device/v1/config` (signed, `If-None-Match` → 304 while current): everything the device
  decides offline with, for its own binding (`parking.services.device_configuration`): its
  place as the fare feed names it, accepted products, passback, TOTP window, the deny list's
  maximum age, upload and heartbeat intervals; for a barrier its lot, capacity, reserved spaces
  and the tariff versions it prices with (a scheduled change arrives before it applies). The
  ETag is the document's `version`, which the device reports in its heartbeat.

- `GET /device/v1/liveness-keys` (signed, `If-None-Match` → 304 while current): the liveness
  master keys in force or coming into force within a week, sealed to the X25519 public key the
  device sent at enrolment (HPKE, `qr.sealed`): only its secure module opens them, never sent
  in clear. The ETag is the key set's version.

- `POST /device/v1/heartbeat` (signed) `{"software_version", "config_version", "key_set_version",
  "deny_list_version", "records_waiting", "oldest_waiting_seconds", "faults", "device_time"}`:
  what the device holds and how it is, every `heartbeat_interval_seconds` of its
  configuration; kept as its latest (`ticketing.services.device_health.record_heartbeat`),
  from which operators see its state and alarms. A heartbeat that cannot be a device's (a
  version with spaces, records waiting without the oldest's age, a fault code twice) is a 422
  `invalid-heartbeat`.

Refusals of the registry (a wrong, used or expired code: 403 `enrolment-refused`; a malformed
key: 422) are problem documents like every other.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from faregate.api.context import CONFIG, ENGINE, PRICING_FEED, RATE_LIMITER, UOWS
from faregate.api.error_table import ProblemType
from faregate.api.errors import Problem
from faregate.api.rate_limit import RateLimit
from faregate.api.registry import Auth, Call, RouteRegistry
from parking.errors import NoTariff, UnknownLot
from parking.services import device_configuration
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.errors import QRError
from qr.keys import load_liveness_keys
from qr.sealed import key_set_version, keys_for_device, seal_liveness_keys
from ticketing.device_health import MAX_FAULTS, Fault, Heartbeat
from ticketing.device_secrets import SecretBox
from ticketing.devices import DeviceKind, Direction
from ticketing.services.device_health import record_heartbeat
from ticketing.services.devices import enrol_device, get_device

routes = RouteRegistry()

DeviceId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
EnrolmentCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
PublicKeyHex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
# Enrolment attempts per device id: a code has 120 random bits, so this only keeps a script
# from filling logs and the database's attention.
ENROL_RATE = RateLimit(requests=10, window_seconds=60)


class EnrolRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    device_id: DeviceId
    enrolment_code: EnrolmentCode
    public_key: PublicKeyHex  # X25519, 32 bytes as lowercase hex


class EnrolledDocument(msgspec.Struct, kw_only=True):
    """The device's new secret (hex, shown once) and where it is bound."""

    device_id: str
    secret: str
    kind: DeviceKind
    stop_id: str | None
    route_id: str | None
    lot_id: str | None
    direction: Direction | None
    generation: int
    enrolled_at: datetime


@routes.route(
    "POST", "/device/v1/enrol", summary="Exchange a one-time enrolment code for a secret",
    tag="device", body=EnrolRequest, response=EnrolledDocument, errors=[403, 429],
)  # fmt: skip
async def enrol(call: Call) -> EnrolledDocument:
    body = call.body_as(EnrolRequest)
    app = call.app
    await app[RATE_LIMITER].hit(f"enrol:{body.device_id}", ENROL_RATE)
    enrolled = await enrol_device(
        app[UOWS],
        body.device_id,
        body.enrolment_code,
        bytes.fromhex(body.public_key),
        box=SecretBox(app[CONFIG].device_master_key),
    )
    device, binding = enrolled.device, enrolled.device.binding
    assert device.enrolled_at is not None  # enrol_device has just set it
    return EnrolledDocument(
        device_id=device.device_id,
        secret=enrolled.secret.hex(),
        kind=binding.kind,
        stop_id=binding.stop_id,
        route_id=binding.route_id,
        lot_id=binding.lot_id,
        direction=binding.direction,
        generation=device.generation,
        enrolled_at=device.enrolled_at,
    )


class BindingDocument(msgspec.Struct, kw_only=True):
    stop_id: str | None
    route_id: str | None
    lot_id: str | None
    direction: Direction | None


class PlaceDocument(msgspec.Struct, kw_only=True):
    """A gate's stop, a validator's route (each with its `name` in the fare feed), or a
    barrier's lot."""

    stop_id: str | None = None
    route_id: str | None = None
    lot_id: str | None = None
    name: str | None = None


class TotpWindowDocument(msgspec.Struct, kw_only=True):
    before: int
    after: int


class BarrierLotDocument(msgspec.Struct, kw_only=True):
    lot_id: str
    name: str
    operator: str
    kind: str
    capacity: int
    reserved: int
    passback: Literal["hard", "soft"]
    hold: int
    currency: str


class SyncedTariffDocument(msgspec.Struct, kw_only=True):
    """One tariff version: the TOML document as uploaded (docs/PARKING.md), in force from
    `effective_from` for stays entered from then on."""

    version: int
    effective_from: datetime
    digest: str
    document: str


class PermitDocument(msgspec.Struct, kw_only=True):
    """A monthly permit the barrier lets in and out without a fee (by plate or credential)."""

    permit_id: str
    month: str
    valid_from: datetime
    valid_until: datetime
    plate: str | None
    credential_id: str | None


class BarrierDocument(msgspec.Struct, kw_only=True):
    """`parking.barrier_config.BarrierConfiguration.as_json()`; `from_json` reads it back."""

    as_of: datetime
    lot: BarrierLotDocument
    tariff_in_force: int
    tariff_next: int | None
    tariffs: list[SyncedTariffDocument]
    permits: list[PermitDocument]


class DeviceConfigDocument(msgspec.Struct, kw_only=True):
    """A device's configuration (`faregate-device-config/1`); `version` is its ETag."""

    format: Literal["faregate-device-config/1"]
    version: str
    device_id: str
    kind: DeviceKind
    binding: BindingDocument
    place: PlaceDocument
    accepted_products: list[str]
    passback_seconds: int
    totp_window: TotpWindowDocument
    max_deny_list_age_seconds: int
    stale_deny_list: Literal["accept_flagged", "refuse"]
    upload_interval_seconds: int
    heartbeat_interval_seconds: int
    barrier: BarrierDocument | None


# A barrier whose lot is gone or has no tariff: the device's registration is the conflict.
BARRIER_LOT = ProblemType(
    409, "barrier-lot", "Conflict", "this barrier's lot cannot be configured: {error}"
)

IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag of the configuration the device holds; 304 while it is current.",
}


def etag_matches(request: web.Request, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match", "")
    return wanted.strip() == "*" or etag in (tag.strip() for tag in wanted.split(","))


@routes.route(
    "GET", "/device/v1/config", summary="The device's configuration, versioned by ETag",
    tag="device", auth=Auth.DEVICE, response=DeviceConfigDocument, errors=[304, 409],
    problems={UnknownLot: BARRIER_LOT, NoTariff: BARRIER_LOT},
    parameters=[IF_NONE_MATCH],
)  # fmt: skip
async def get_config(call: Call) -> web.StreamResponse:
    app = call.app
    device_id = call.require_subject()
    parking = ParkingUnitOfWorkFactory(app[ENGINE], app[CONFIG].clock)
    found = await device_configuration(
        parking, device_id, feed=app[PRICING_FEED], policy=app[CONFIG].device_policy
    )
    etag = f'"{found.version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(call.request, etag):
        return web.Response(status=304, headers=headers)
    # The document as it was versioned (the model above describes it for /openapi.json).
    return web.Response(
        body=msgspec.json.encode(found.document), content_type="application/json", headers=headers
    )


class SealedLivenessKeysDocument(msgspec.Struct, kw_only=True):
    """Liveness master keys sealed to the device (docs/TOKEN-SPEC.md §9): HPKE base mode,
    `info` = "faregate-liveness-keys/1" 0x00 device id, no aad; open `enc` + `ciphertext`
    with the device's X25519 private key. `version` and `key_ids` are said in clear."""

    format: Literal["faregate-sealed-liveness-keys/1"]
    device_id: str
    version: str
    key_ids: list[int]
    issued_at: datetime
    suite: str
    enc: str  # hex, 32 bytes
    ciphertext: str  # hex


@routes.route(
    "GET", "/device/v1/liveness-keys", summary="Liveness keys, sealed to this device",
    tag="device", auth=Auth.DEVICE, response=SealedLivenessKeysDocument, errors=[304, 503],
    parameters=[{**IF_NONE_MATCH, "description": "The version of the key set held; 304 while "
                 "it is current."}],
)  # fmt: skip
async def get_liveness_keys(call: Call) -> web.StreamResponse:
    app = call.app
    config = app[CONFIG]
    device = await get_device(app[UOWS], call.require_subject())
    assert device.public_key is not None  # enrolment takes one; the guard let only enrolled in
    try:
        keyset, masters = await asyncio.to_thread(load_liveness_keys, config.keys_dir)
    except (OSError, QRError) as error:
        raise Problem(
            503, "no-keyset", "Key set unavailable", f"no usable liveness keys: {error}"
        ) from error
    now = config.clock()
    keys = keys_for_device(keyset, masters, now)
    etag = f'"{key_set_version(keys)}"'
    headers = {"ETag": etag, "Cache-Control": "no-store"}
    if etag_matches(call.request, etag):
        return web.Response(status=304, headers=headers)
    sealed = seal_liveness_keys(device.device_id, device.public_key, keys, now)
    return web.Response(
        body=msgspec.json.encode(sealed.to_json()), content_type="application/json", headers=headers
    )


Version = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class FaultDocument(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A fault in the maker's words: a short code (`a-z 0-9 _ . -`), what, since when."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    detail: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    since: AwareTime | None = None


class HeartbeatRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the device holds (None: nothing yet) and how it is."""

    software_version: Version
    config_version: Version | None = None  # the `version` of the configuration it holds
    key_set_version: Version | None = None  # the liveness keys' version it holds
    deny_list_version: Count | None = None
    records_waiting: Count = 0  # journal records not yet acknowledged by an upload
    oldest_waiting_seconds: Count | None = None  # required when records wait
    faults: Annotated[list[FaultDocument], msgspec.Meta(max_length=MAX_FAULTS)] = []
    device_time: AwareTime | None = None


class HeartbeatAnswer(msgspec.Struct, kw_only=True):
    device_id: str
    received_at: datetime
    heartbeat_interval_seconds: int  # when to send the next one


@routes.route(
    "POST", "/device/v1/heartbeat", summary="Report what the device holds and how it is",
    tag="device", auth=Auth.DEVICE, body=HeartbeatRequest, response=HeartbeatAnswer,
    errors=[404],
)  # fmt: skip
async def post_heartbeat(call: Call) -> HeartbeatAnswer:
    app = call.app
    body = call.body_as(HeartbeatRequest)
    heartbeat = Heartbeat(
        software_version=body.software_version,
        config_version=body.config_version,
        key_set_version=body.key_set_version,
        deny_list_version=body.deny_list_version,
        records_waiting=body.records_waiting,
        oldest_waiting_seconds=body.oldest_waiting_seconds,
        faults=tuple(Fault(code=f.code, detail=f.detail, since=f.since) for f in body.faults),
        device_time=body.device_time,
    )  # InvalidHeartbeat: 422 invalid-heartbeat
    stored = await record_heartbeat(app[UOWS], call.require_subject(), heartbeat)
    return HeartbeatAnswer(
        device_id=stored.device_id,
        received_at=stored.received_at,
        heartbeat_interval_seconds=int(
            app[CONFIG].device_policy.heartbeat_interval.total_seconds()
        ),
    )
