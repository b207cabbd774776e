"""The operator page's data from the services.

`ServicesOverview(uows)` is an `OperatorSource`:

- lots: each configured lot with its open sessions (the sessions are the truth the live count
  in Redis is corrected from); the device API then publishes every change to the pages'
  broadcasters (`faregate.api.occupancy_relay`), so the rows move without a reload;
- devices: every device that has uploaded taps, with when it last did and its journal lag
  (sequence numbers below its highest that the backend does not hold), from
  `ticketing.services.devices.device_activity`, the use case the operator API calls;
- the unable-to-collect report (`parking.services.unable_to_collect_report`), newest first.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from faregate.web.occupancy import LotOccupancy
from faregate.web.operator import DeviceStatus, OperatorOverview, UncollectedExit
from parking.services import unable_to_collect_report
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.timeutil import Clock, utc_now
from ticketing.money import Money
from ticketing.services.devices import device_activity

OPERATOR_NAME = "Faregate operations"
MAX_UNCOLLECTED = 200  # the newest cases on the page


class ServicesOverview:
    """An `OperatorSource` over the parking and device services (module docstring)."""

    def __init__(
        self, uows: Callable[[web.Request], ParkingUnitOfWorkFactory], *, clock: Clock = utc_now
    ) -> None:
        self._uows = uows
        self._clock = clock

    async def __call__(self, request: web.Request) -> OperatorOverview:
        uows = self._uows(request)
        now = self._clock()
        activity = await device_activity(uows)
        report = await unable_to_collect_report(uows)
        cases = sorted(report.cases, key=lambda c: c.at, reverse=True)[:MAX_UNCOLLECTED]
        async with uows() as uow:
            lots = await uow.parking.lots()
            occupied = {lot.lot_id: await uow.parking.count_open(lot.lot_id) for lot in lots}
            names = {lot.lot_id: lot.name for lot in lots}
            entered = {c.session_id: (await uow.parking.get_session(c.session_id)) for c in cases}
        return OperatorOverview(
            operator=OPERATOR_NAME,
            as_of=now,
            lots=tuple(
                LotOccupancy(
                    lot_id=lot.lot_id,
                    name=lot.name,
                    capacity=lot.capacity,
                    occupied=occupied[lot.lot_id],
                    updated_at=now,
                )
                for lot in sorted(lots, key=lambda lot: lot.name)
            ),
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
                    session_id=c.session_id,
                    lot_name=names.get(c.lot_id, c.lot_id),
                    credential_id=c.credential_id,
                    plate=c.plate,
                    entered_at=entered[c.session_id].entry_at,
                    exited_at=c.at,
                    fee=Money(c.amount, c.currency),
                    reason=c.reason.replace("_", " "),
                )
                for c in cases
            ),
        )
