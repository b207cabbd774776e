"""The operator page's data from the services the operator API calls.

`ServicesOverview(uows, occupancy)` is an `OperatorSource`:

- lots: `parking.services.lot_statuses`, the lots with the live count their barriers admit
  against and the spaces an ordinary entry may still take (the operator API's answer); the
  device API then publishes every change to the pages' broadcasters
  (`faregate.api.occupancy_relay`), so the rows move without a reload;
- devices: every device that has uploaded taps, with when it last did and its journal lag
  (sequence numbers below its highest that the backend does not hold), from
  `ticketing.services.devices.device_activity`, the use case the operator API calls;
- the newest unable-to-collect cases with their stays (`parking.services.newest_uncollected`).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from faregate.web.occupancy import LotOccupancy
from faregate.web.operator import DeviceStatus, OperatorOverview, UncollectedExit
from parking.occupancy import Occupancy
from parking.services import lot_statuses, newest_uncollected
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.timeutil import Clock, utc_now
from ticketing.money import Money
from ticketing.services.devices import device_activity

OPERATOR_NAME = "Faregate operations"
MAX_UNCOLLECTED = 200  # the newest cases on the page


class ServicesOverview:
    """An `OperatorSource` over the parking and device services (module docstring)."""

    def __init__(
        self,
        uows: Callable[[web.Request], ParkingUnitOfWorkFactory],
        occupancy: Callable[[web.Request], Occupancy],
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._uows = uows
        self._occupancy = occupancy
        self._clock = clock

    async def __call__(self, request: web.Request) -> OperatorOverview:
        uows = self._uows(request)
        now = self._clock()
        lots = await lot_statuses(uows, self._occupancy(request))
        activity = await device_activity(uows)
        stays = await newest_uncollected(uows, limit=MAX_UNCOLLECTED)
        return OperatorOverview(
            operator=OPERATOR_NAME,
            as_of=now,
            lots=tuple(LotOccupancy.of(lot) for lot in lots),
            devices=tuple(
                DeviceStatus(
                    device_id=a.device_id,
                    last_upload_at=a.last_upload_at,
                    journal_lag=a.missing,
                    records=a.records,
                )
                for a in sorted(activity, key=lambda a: a.last_upload_at, reverse=True)
            ),
            uncollected=tuple(
                UncollectedExit(
                    session_id=stay.case.session_id,
                    lot_name=stay.lot_name,
                    credential_id=stay.case.credential_id,
                    plate=stay.case.plate,
                    entered_at=stay.entered_at,
                    exited_at=stay.case.at,
                    fee=Money(stay.case.amount, stay.case.currency),
                    reason=stay.case.reason.replace("_", " "),
                )
                for stay in stays
            ),
        )
