"""Device API, a device's own life: enrol once, then (signed) fetch its configuration and its
sealed liveness keys, and report its health.

- `POST /device/v1/enrol` (unsigned: the device has no secret yet) `{"device_id",
  "enrolment_code", "public_key"}`: the one-time code an operator got from `faregate devices
  add` buys the device its own signing secret, once (`ticketing.services.devices.enrol_device`).
  The public key is the X25519 key the device generated; its liveness keys are sealed to it.

Refusals of the registry (a wrong, used or expired code: 403 `enrolment-refused`; a malformed
key: 422) are problem documents like every other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from faregate.api.context import CONFIG, RATE_LIMITER, UOWS
from faregate.api.device_errors import device_problems
from faregate.api.rate_limit import RateLimit
from faregate.api.registry import Call, RouteRegistry
from ticketing.device_secrets import SecretBox
from ticketing.devices import DeviceKind, Direction
from ticketing.services.devices import enrol_device

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
    with device_problems():
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
