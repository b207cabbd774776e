"""The demo's devices are enrolled as real ones are: each gate, validator and barrier is
registered at its place (`ticketing.services.devices.add_device`, what `faregate devices add`
calls) and exchanges its one-time code for its own secret (`enrol_device`, what `POST
/device/v1/enrol` calls) with an X25519 key of its own. The demo has no HTTP server, so its
device key (what seals the secrets at rest) is made for the run.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ticketing.audit import Actor
from ticketing.device_secrets import SecretBox
from ticketing.devices import Binding, Places
from ticketing.services.devices import add_device, enrol_device
from ticketing.unit_of_work import UnitOfWorkFactory

DEMO = Actor.administrator("demo")


async def enrol_devices(
    uows: UnitOfWorkFactory, bindings: Mapping[str, Binding], places: Places
) -> int:
    """Register and enrol every device of `bindings` (id -> place); how many were enrolled."""
    box = SecretBox(secrets.token_bytes(32))
    for device_id, binding in sorted(bindings.items()):
        enrolment = await add_device(uows, device_id, binding, places=places, by=DEMO)
        key = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        await enrol_device(uows, device_id, enrolment.code, key, box=box)
    return len(bindings)
