"""Operator API (Auth.OPERATOR): parking lots and unable-to-collect cases (devices are in
`faregate.api.routes.operator_devices`).

- `GET /api/v1/operator/lots`: every lot with its live occupancy (Redis; resynced from the
  open sessions when Redis has no count for it).
- `GET /api/v1/operator/unable-to-collect`: the parking fees cars left without paying,
  oldest first.
Each is one service call: `parking.services.lot_statuses` (which the operator page and the
demo show too) and `parking.services.unable_to_collect_report`.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from faregate.api.context import CONFIG, ENGINE, REDIS
from faregate.api.registry import Auth, Call, RouteRegistry
from parking.occupancy import Occupancy
from parking.services import lot_statuses, unable_to_collect_report
from parking.unit_of_work import ParkingUnitOfWorkFactory

routes = RouteRegistry()


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


def _parking(call: Call) -> ParkingUnitOfWorkFactory:
    return ParkingUnitOfWorkFactory(call.app[ENGINE], call.app[CONFIG].clock)


@routes.route(
    "GET", "/api/v1/operator/lots", summary="Parking lots and live occupancy",
    tag="operator", auth=Auth.OPERATOR, response=LotList,
)  # fmt: skip
async def get_lots(call: Call) -> LotList:
    lots = await lot_statuses(_parking(call), Occupancy(call.app[REDIS]))
    return LotList(lots=msgspec.convert(lots, list[LotDocument], from_attributes=True))


@routes.route(
    "GET", "/api/v1/operator/unable-to-collect",
    summary="Parking fees that could not be collected",
    tag="operator", auth=Auth.OPERATOR, response=UncollectedList,
)  # fmt: skip
async def get_unable_to_collect(call: Call) -> UncollectedList:
    report = await unable_to_collect_report(_parking(call))
    return UncollectedList(
        fees=[
            UncollectedDocument(
                session_id=case.session_id,
                lot_id=case.lot_id,
                account_id=case.account_id,
                plate=case.plate,
                amount=case.amount,
                currency=case.currency,
                reason=case.reason,
                at=case.at,
                on_receivable=case.debt_posting_id is not None,
            )
            for case in report.cases
        ]
    )
