"""The operator page's data from the services the operator API calls.

`ServicesOverview(uows, occupancy, feed=...)` is an `OperatorSource`:

- lots: `parking.services.lot_statuses`, the lots with the live count their barriers admit
  against and the spaces an ordinary entry may still take (the operator API's answer); the
  device API then publishes every change to the pages' broadcasters
  (`faregate.api.occupancy_relay`), so the rows move without a reload;
- devices: a page of the registered devices (gates, validators, barriers; `PAGE_SIZE` by id,
  filtered by the query string's `search` (in the id), `station` (a stop or its parent
  station: its gates) and `lot` (its barriers), from after `after`), each with its kind and
  place, when it last uploaded and its journal lag (sequence numbers below its highest that
  the backend does not hold), its state, what its last heartbeat says it holds and its alarms,
  from `ticketing.services.device_health.device_health_page`, the use case the operator API
  calls; on the first page without a filter, devices whose taps are
  stored but that are not in the registry (journals from before enrolment existed) follow, as
  `unregistered`. A filter that cannot be one is a 422 with the reason;
- the newest unable-to-collect cases with their stays (`parking.services.newest_uncollected`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from aiohttp import web

from faregate.errors import FormRefused
from faregate.web.occupancy import LotOccupancy
from faregate.web.operator import DeviceFilter, DeviceStatus, OperatorOverview, UncollectedExit
from parking.occupancy import Occupancy
from parking.services import lot_statuses, newest_uncollected
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.timeutil import Clock, utc_now
from ticketing.device_health import DeviceHealth
from ticketing.devices import DevicePolicy
from ticketing.fares.feed import FareFeed
from ticketing.money import Money
from ticketing.services.device_health import DeviceReport, device_health_page
from ticketing.services.devices import (
    DEFAULT_POLICY,
    RegistryQuery,
    device_activity,
    station_stops,
)

OPERATOR_NAME = "Faregate operations"
MAX_UNCOLLECTED = 200  # the newest cases on the page
PAGE_SIZE = 100  # devices a page; a link leads to the next
# What the operator API accepts for the same filters (faregate.api.routes.operator_devices).
PLACE = re.compile(r"[^\x00-\x20\x7f]{1,100}")
FILTERS = {
    "search": (re.compile(r"[^\x00-\x1f\x7f]{1,64}"), "1-64 characters, none a control"),
    "station": (PLACE, "a stop id (no spaces or control characters)"),
    "lot": (PLACE, "a lot id (no spaces or control characters)"),
    "after": (re.compile(r"[A-Za-z0-9._:-]{1,64}"), "a device id (1-64 of A-Z a-z 0-9 . _ : -)"),
}


def device_filter(query: Mapping[str, str]) -> DeviceFilter:
    """The page's device filter from its query string; FormRefused (a 422) naming what cannot
    be one."""
    values = {name: query.get(name, "").strip() for name in FILTERS}
    for name, value in values.items():
        pattern, wanted = FILTERS[name]
        if value and not pattern.fullmatch(value):
            reason = f"{value[:40]!r} is not {wanted}"
            raise FormRefused(f"{name} {reason}", {name: reason})
    return DeviceFilter(**values)


def _holds(health: DeviceHealth) -> str:
    if health.heartbeat is None:
        return ""
    beat = health.heartbeat.heartbeat
    parts = [
        f"config {beat.config_version[:8]}" if beat.config_version else "no config",
        f"keys {beat.key_set_version[:12]}" if beat.key_set_version else "no keys",
        "no deny list"
        if beat.deny_list_version is None
        else f"deny list v{beat.deny_list_version}",
        f"sw {beat.software_version}",
    ]
    return " · ".join(parts)


def device_status(report: DeviceReport) -> DeviceStatus:
    """A device's row on the page."""
    health, use = report.health, report.activity
    binding = health.device.binding
    kind = str(binding.kind) if binding.direction is None else f"{binding.direction} barrier"
    return DeviceStatus(
        device_id=health.device.device_id,
        kind=kind,
        location=binding.describe(),
        last_upload_at=None if use is None else use.last_upload_at,
        journal_lag=None if use is None else use.missing,
        records=None if use is None else use.records,
        state=health.state.value,
        holds=_holds(health),
        alarms=tuple(
            f"{alarm.kind.value.replace('_', ' ')}: {alarm.detail}" for alarm in health.alarms
        ),
    )


class ServicesOverview:
    """An `OperatorSource` over the parking and device services (module docstring)."""

    def __init__(
        self,
        uows: Callable[[web.Request], ParkingUnitOfWorkFactory],
        occupancy: Callable[[web.Request], Occupancy],
        *,
        feed: Callable[[web.Request], FareFeed],
        clock: Clock = utc_now,
        policy: DevicePolicy = DEFAULT_POLICY,
    ) -> None:
        self._uows = uows
        self._occupancy = occupancy
        self._feed = feed
        self._clock = clock
        self._policy = policy

    async def __call__(self, request: web.Request) -> OperatorOverview:
        uows = self._uows(request)
        now = self._clock()
        chosen = device_filter(request.query)
        lots = await lot_statuses(uows, self._occupancy(request))
        query = RegistryQuery(
            search=chosen.search or None,
            stops=station_stops(self._feed(request), chosen.station) if chosen.station else None,
            lot=chosen.lot or None,
            after=chosen.after or None,
            limit=PAGE_SIZE + 1,  # one more: is there a next page?
        )
        found = await device_health_page(uows, query, self._policy)
        reports = found[:PAGE_SIZE]
        registered = {report.health.device.device_id for report in reports}
        unregistered = (
            [a for a in await device_activity(uows) if a.device_id not in registered]
            if chosen == DeviceFilter()
            else []
        )
        stays = await newest_uncollected(uows, limit=MAX_UNCOLLECTED)
        return OperatorOverview(
            operator=OPERATOR_NAME,
            as_of=now,
            lots=tuple(LotOccupancy.of(lot) for lot in lots),
            devices=(
                *(device_status(report) for report in reports),
                *(
                    DeviceStatus(
                        device_id=a.device_id,
                        last_upload_at=a.last_upload_at,
                        journal_lag=a.missing,
                        records=a.records,
                        state="unregistered",
                    )
                    for a in sorted(unregistered, key=lambda a: a.last_upload_at, reverse=True)
                ),
            ),
            device_filter=chosen,
            next_after=(
                reports[-1].health.device.device_id if len(found) > PAGE_SIZE else None
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
