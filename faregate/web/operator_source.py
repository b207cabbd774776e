"""The operator page's data from the services: devices from their stored journals.

`DeviceOverview(uows)` is an `OperatorSource`: every device that has uploaded, with when it
last did and its journal lag (sequence numbers below its highest that the backend does not
hold), from `ticketing.services.devices.device_activity`, the same use case the operator API
calls. Lots and the unable-to-collect report come from the parking services, which this
build does not have yet: the page shows no lots and no uncollected exits.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from faregate.web.operator import DeviceStatus, OperatorOverview
from qr.timeutil import Clock, utc_now
from ticketing.services.devices import device_activity
from ticketing.unit_of_work import UnitOfWorkFactory

OPERATOR_NAME = "Faregate operations"


class DeviceOverview:
    """An `OperatorSource` over the device journals (module docstring)."""

    def __init__(
        self, uows: Callable[[web.Request], UnitOfWorkFactory], *, clock: Clock = utc_now
    ) -> None:
        self._uows = uows
        self._clock = clock

    async def __call__(self, request: web.Request) -> OperatorOverview:
        activity = await device_activity(self._uows(request))
        devices = sorted(activity, key=lambda a: a.last_upload_at, reverse=True)
        return OperatorOverview(
            operator=OPERATOR_NAME,
            as_of=self._clock(),
            lots=(),
            devices=tuple(
                DeviceStatus(
                    device_id=a.device_id,
                    last_upload_at=a.last_upload_at,
                    journal_lag=a.missing,
                    records=a.records,
                )
                for a in devices
            ),
            uncollected=(),
        )
