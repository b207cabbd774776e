"""Operator API (Auth.OPERATOR): devices now; parking lots and unable-to-collect once wired.

- `GET /api/v1/operator/devices`: every device that has uploaded, from the taps table: records
  stored, highest sequence number and how many below it are missing, the newest tap time, the
  last upload, `seconds_since_upload` (now − last upload) and `journal_lag_seconds` (last
  upload − newest tap time: how late the device's records reach the server).
- `GET /api/v1/operator/lots`, `GET /api/v1/operator/unable-to-collect`: SHELLS. They check
  the role, then answer 501 until `ApiConfig.parking_ops` is wired to the parking services
  (`faregate.api.staff.ParkingOps`).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from faregate.api.context import CONFIG, UOWS
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.api.staff import not_wired
from ticketing.services.devices import device_activity

routes = RouteRegistry()


class DeviceStatus(msgspec.Struct, kw_only=True):
    device_id: str
    records: int
    last_seq: int
    missing_sequence_numbers: int
    last_tap_at: datetime
    last_upload_at: datetime
    seconds_since_upload: float
    journal_lag_seconds: float


class DeviceStatusList(msgspec.Struct, kw_only=True):
    as_of: datetime
    devices: list[DeviceStatus]


class LotDocument(msgspec.Struct, kw_only=True):
    lot_id: str
    capacity: int
    occupied: int
    updated_at: datetime


class LotList(msgspec.Struct, kw_only=True):
    lots: list[LotDocument]


class UncollectedDocument(msgspec.Struct, kw_only=True):
    session_id: str
    lot_id: str
    account_id: str
    amount: int
    currency: str
    reason: str


class UncollectedList(msgspec.Struct, kw_only=True):
    fees: list[UncollectedDocument]


@routes.route(
    "GET", "/api/v1/operator/devices", summary="Device status: last upload and journal lag",
    tag="operator", auth=Auth.OPERATOR, response=DeviceStatusList,
)  # fmt: skip
async def get_devices(call: Call) -> DeviceStatusList:
    now = call.app[CONFIG].clock()
    activity = await device_activity(call.app[UOWS])
    return DeviceStatusList(
        as_of=now,
        devices=[
            DeviceStatus(
                device_id=a.device_id,
                records=a.records,
                last_seq=a.last_seq,
                missing_sequence_numbers=a.missing,
                last_tap_at=a.last_tap_at,
                last_upload_at=a.last_upload_at,
                seconds_since_upload=(now - a.last_upload_at).total_seconds(),
                journal_lag_seconds=(a.last_upload_at - a.last_tap_at).total_seconds(),
            )
            for a in activity
        ],
    )


@routes.route(
    "GET", "/api/v1/operator/lots", summary="Parking lots and live occupancy (not wired yet)",
    tag="operator", auth=Auth.OPERATOR, response=LotList, errors=[501],
)  # fmt: skip
async def get_lots(call: Call) -> LotList:
    ops = call.app[CONFIG].parking_ops
    if ops is None:
        raise not_wired("live parking occupancy", "parking.services")
    return LotList(lots=msgspec.convert(await ops.lots(), list[LotDocument], from_attributes=True))


@routes.route(
    "GET", "/api/v1/operator/unable-to-collect",
    summary="Parking fees that could not be collected (not wired yet)",
    tag="operator", auth=Auth.OPERATOR, response=UncollectedList, errors=[501],
)  # fmt: skip
async def get_unable_to_collect(call: Call) -> UncollectedList:
    ops = call.app[CONFIG].parking_ops
    if ops is None:
        raise not_wired("the unable-to-collect report", "parking.services")
    fees = await ops.unable_to_collect()
    return UncollectedList(
        fees=msgspec.convert(fees, list[UncollectedDocument], from_attributes=True)
    )
