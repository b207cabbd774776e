"""Operator API (Auth.OPERATOR): devices, parking lots and unable-to-collect cases.

- `GET /api/v1/operator/devices`: every device that has uploaded, from the taps table: records
  stored, highest sequence number and how many below it are missing, the newest tap time, the
  last upload, `seconds_since_upload` (now − last upload) and `journal_lag_seconds` (last
  upload − newest tap time: how late the device's records reach the server).
- `GET /api/v1/operator/lots`: every lot with its live occupancy (Redis; resynced from the
  open sessions when Redis has no count for it).
- `GET /api/v1/operator/unable-to-collect`: the parking fees cars left without paying.
Both (`parking_routes`) call `faregate.api.staff.ParkingOps`: the app's own
(`faregate.api.parking_ops.AppParkingOps`) unless `ApiConfig.parking_ops` replaces it.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from faregate.api.context import CONFIG, PARKING_OPS, UOWS
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.api.staff import ParkingOps
from ticketing.services.devices import device_activity

routes = RouteRegistry()
parking_routes = RouteRegistry()


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
    name: str
    operator: str
    capacity: int
    reserved: int
    occupied: int
    free: int
    updated_at: datetime


class LotList(msgspec.Struct, kw_only=True):
    lots: list[LotDocument]


class UncollectedDocument(msgspec.Struct, kw_only=True):
    session_id: str
    lot_id: str
    account_id: str | None
    plate: str | None
    amount: int
    currency: str
    reason: str
    at: datetime
    on_receivable: bool


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


def _parking(call: Call) -> ParkingOps:
    return call.app[PARKING_OPS]


@parking_routes.route(
    "GET", "/api/v1/operator/lots", summary="Parking lots and live occupancy",
    tag="operator", auth=Auth.OPERATOR, response=LotList,
)  # fmt: skip
async def get_lots(call: Call) -> LotList:
    ops = _parking(call)
    return LotList(lots=msgspec.convert(await ops.lots(), list[LotDocument], from_attributes=True))


@parking_routes.route(
    "GET", "/api/v1/operator/unable-to-collect",
    summary="Parking fees that could not be collected",
    tag="operator", auth=Auth.OPERATOR, response=UncollectedList,
)  # fmt: skip
async def get_unable_to_collect(call: Call) -> UncollectedList:
    fees = await _parking(call).unable_to_collect()
    return UncollectedList(
        fees=msgspec.convert(fees, list[UncollectedDocument], from_attributes=True)
    )
