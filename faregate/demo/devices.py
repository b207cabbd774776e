"""The demo's devices are registered as a city registers real ones: each gate, validator and
barrier at its place (`ticketing.services.devices.add_device`, what `faregate devices add`
calls), which gives it a one-time enrolment code. The devices then enrol themselves over HTTP
(`POST /device/v1/enrol`, `simulators.device_client.DeviceClient.enrol`) with an X25519 key
of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from ticketing.audit import Actor
from ticketing.devices import Binding, Places
from ticketing.services.devices import add_device
from ticketing.unit_of_work import UnitOfWorkFactory

DEMO = Actor.administrator("demo")
# The codes are handed out the day before; the devices enrol on the morning of the day.
CODE_LIFETIME = timedelta(days=3)


async def register_devices(
    uows: UnitOfWorkFactory, bindings: Mapping[str, Binding], places: Places
) -> dict[str, str]:
    """Register every device of `bindings` (id -> place); their enrolment codes by id."""
    codes = {}
    for device_id, binding in sorted(bindings.items()):
        enrolment = await add_device(
            uows, device_id, binding, places=places, by=DEMO, valid_for=CODE_LIFETIME
        )
        codes[device_id] = enrolment.code
    return codes
