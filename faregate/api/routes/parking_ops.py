"""Parking operations over HTTP: unable-to-collect cases, permits, remote opens and plate
checks, each one call of its `parking` use case (the CLI, pages and demo call the same).

Operator (Auth.OPERATOR):
- `GET /api/v1/operator/cases?plate=&lot_id=&day=&status=`: the cases, newest first (a
  plate compares normalised; `day` is the exit's Hanoi day); `GET /api/v1/operator/cases.csv`
  the same as CSV. `POST /api/v1/operator/cases/{session_id}/notify` tells the rider through
  the outbox; `.../write-off` `{"reason"}` gives the case up (the debt reversed);
  `.../collect` `{"note"}` records a driver without an account who paid at the lot.
- `POST /api/v1/operator/lots/{lot_id}/permits` `{"month", "plate" | "credential_id",
  "account_id"?}`: sell a month's permit, paid at the counter (no account) or from the
  account; `GET .../permits?month=` the lot's permits.
- `GET /api/v1/operator/lots/{lot_id}/barriers`: the barriers that can be opened;
  `POST /api/v1/operator/lots/{lot_id}/barriers/{device_id}/open` `{"reason"}`: the command
  reaches the barrier on its next sync.

Passenger (Auth.PASSENGER): `POST /api/v1/passenger/permits` `{"lot_id", "month", "plate" |
"credential_id"}` paid from the passenger's own account; `GET /api/v1/passenger/permits`.

Inspector (Auth.INSPECTOR): `GET /api/v1/inspector/lots` (the on-street lots) and
`POST /api/v1/inspector/checks` `{"lot_id", "plate"}`: an open stay, a permit or nothing;
every check is recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from faregate.api.context import CONFIG
from faregate.api.errors import Problem
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.api.routes.lots import (
    LOT_PARAMETER,
    PRINTABLE,
    LotId,
    RemoteOpenDocument,
    day_of,
    lot_id_of,
    parking_uows,
    path_id,
)
from faregate.outbox_runtime import open_outbox
from parking.cases import (
    CaseQuery,
    CaseView,
    cases_csv,
    collect_case,
    find_cases,
    notify_case,
    write_off_case,
)
from parking.inspections import check_plate, inspection_lots
from parking.permit import Permit, parse_month
from parking.permits import account_permits, lot_permits, sell_permit
from parking.records import BarrierCommand, CaseRecord, CaseStatus, LotKind
from parking.remote_open import lot_barriers, open_barrier
from ticketing.audit import Actor

routes = RouteRegistry()

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=PRINTABLE)]
Plate = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=PRINTABLE)]
Month = Annotated[str, msgspec.Meta(pattern=r"^20\d\d-(0[1-9]|1[0-2])$")]
CredentialId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
# ... or as the passenger API writes it: a string of digits (a JavaScript Number rounds ids
# above 2**53, so every document we send carries them as strings, and takes them back so).
CredentialDigits = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,19}$")]
AccountId = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PRINTABLE)]
CASE_PARAMETER = {
    "name": "session_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
DEVICE_PARAMETER = {
    "name": "device_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
}


# --- cases ----------------------------------------------------------------------------------


class CasesQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    plate: Plate | None = None
    lot_id: LotId | None = None
    day: Annotated[str, msgspec.Meta(max_length=10)] | None = None  # the exit's Hanoi day
    status: CaseStatus | None = None


class CaseDocument(msgspec.Struct, kw_only=True):
    session_id: str
    lot_id: str
    lot_name: str | None
    account_id: str | None
    credential_id: str | None  # decimal digits: ids reach 2**63
    plate: str | None
    amount: int
    currency: str
    reason: str
    entered_at: datetime | None
    at: datetime  # when the car left
    on_receivable: bool  # the debt is on the account's receivable
    status: CaseStatus
    notified_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


class CaseList(msgspec.Struct, kw_only=True):
    cases: list[CaseDocument]


class WriteOffRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Text


class CollectRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: Text


def case_document(case: CaseRecord, view: CaseView | None = None) -> CaseDocument:
    return CaseDocument(
        session_id=case.session_id,
        lot_id=case.lot_id,
        lot_name=None if view is None else view.lot_name,
        account_id=case.account_id,
        credential_id=None if case.credential_id is None else str(case.credential_id),
        plate=case.plate,
        amount=case.amount,
        currency=case.currency,
        reason=case.reason,
        entered_at=None if view is None else view.entered_at,
        at=case.at,
        on_receivable=case.debt_posting_id is not None,
        status=case.status,
        notified_at=case.notified_at,
        resolved_at=case.resolved_at,
        resolved_by=case.resolved_by,
        resolution=case.resolution,
    )


def case_query(query: CasesQuery) -> CaseQuery:
    return CaseQuery(
        plate=query.plate,
        lot_id=query.lot_id,
        day=None if query.day is None else day_of(query.day),
        status=query.status,
    )


@routes.route(
    "GET", "/api/v1/operator/cases",
    summary="Unable-to-collect cases by plate, lot, day and status",
    tag="operator", auth=Auth.OPERATOR, query=CasesQuery, response=CaseList,
)  # fmt: skip
async def get_cases(call: Call) -> CaseList:
    query = case_query(call.query_as(CasesQuery))
    views = await find_cases(parking_uows(call), query)
    return CaseList(cases=[case_document(v.case, v) for v in views])


@routes.route(
    "GET", "/api/v1/operator/cases.csv", summary="Unable-to-collect cases as CSV",
    tag="operator", auth=Auth.OPERATOR, query=CasesQuery, response_content_type="text/csv",
)  # fmt: skip
async def get_cases_csv(call: Call) -> web.Response:
    query = case_query(call.query_as(CasesQuery))
    views = await find_cases(parking_uows(call), query)
    day = call.app[CONFIG].clock().date().isoformat()
    return web.Response(
        text=cases_csv(views),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="parking-cases-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _session_id(call: Call) -> str:
    return path_id(call, "session_id", "case")


@routes.route(
    "POST", "/api/v1/operator/cases/{session_id}/notify",
    summary="Tell the rider of a case what they owe (through the outbox)",
    tag="operator", auth=Auth.OPERATOR, response=CaseDocument, errors=[404, 409],
    parameters=[CASE_PARAMETER],
)  # fmt: skip
async def post_notify(call: Call) -> CaseDocument:
    case = await notify_case(
        parking_uows(call), open_outbox(call.app[CONFIG].settings), _session_id(call),
        by=Actor.of(call.user),
    )  # fmt: skip
    return case_document(case)


@routes.route(
    "POST", "/api/v1/operator/cases/{session_id}/write-off",
    summary="Write a case off, with the reason (its debt is reversed)",
    tag="operator", auth=Auth.OPERATOR, body=WriteOffRequest, response=CaseDocument,
    errors=[404, 409], parameters=[CASE_PARAMETER],
)  # fmt: skip
async def post_write_off(call: Call) -> CaseDocument:
    reason = call.body_as(WriteOffRequest).reason
    case = await write_off_case(
        parking_uows(call), _session_id(call), reason=reason, by=Actor.of(call.user)
    )
    return case_document(case)


@routes.route(
    "POST", "/api/v1/operator/cases/{session_id}/collect",
    summary="A driver without an account paid at the lot",
    tag="operator", auth=Auth.OPERATOR, body=CollectRequest, response=CaseDocument,
    errors=[404, 409], parameters=[CASE_PARAMETER],
)  # fmt: skip
async def post_collect(call: Call) -> CaseDocument:
    note = call.body_as(CollectRequest).note
    case = await collect_case(
        parking_uows(call), _session_id(call), note=note, by=Actor.of(call.user)
    )
    return case_document(case)


# --- permits --------------------------------------------------------------------------------


class PermitSale(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An operator's sale: at the counter, or from `account_id`."""

    month: Month
    plate: Plate | None = None
    credential_id: CredentialId | CredentialDigits | None = None
    account_id: AccountId | None = None


class PassengerPermitSale(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A passenger's purchase, paid from their own account."""

    lot_id: LotId
    month: Month
    plate: Plate | None = None
    credential_id: CredentialId | CredentialDigits | None = None


def credential_number(value: int | str | None) -> int | None:
    """A credential id of a request, given as a number or as a string of digits."""
    if value is None or isinstance(value, int):
        return value
    number = int(value)
    if number > 2**63 - 1:
        raise Problem(
            422, "validation", "Invalid body", f"credential_id {value} is above 2**63 - 1"
        )
    return number


class PermitsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    month: Month | None = None


class ParkingPermitDocument(msgspec.Struct, kw_only=True):
    permit_id: str
    lot_id: str
    month: str  # YYYY-MM
    valid_from: datetime
    valid_until: datetime
    plate: str | None
    credential_id: str | None  # decimal digits: ids reach 2**63
    price: int
    currency: str
    sold_at: datetime
    sold_by: str
    paid: Literal["account", "counter"]
    account_id: str | None


class PermitList(msgspec.Struct, kw_only=True):
    permits: list[ParkingPermitDocument]


def permit_document(permit: Permit) -> ParkingPermitDocument:
    return ParkingPermitDocument(
        permit_id=permit.permit_id,
        lot_id=permit.lot_id,
        month=f"{permit.month:%Y-%m}",
        valid_from=permit.valid_from,
        valid_until=permit.valid_until,
        plate=permit.plate,
        credential_id=None if permit.credential_id is None else str(permit.credential_id),
        price=permit.price,
        currency=permit.currency,
        sold_at=permit.sold_at,
        sold_by=permit.sold_by,
        paid="counter" if permit.posting_id is None else "account",
        account_id=permit.account_id,
    )


@routes.route(
    "POST", "/api/v1/operator/lots/{lot_id}/permits",
    summary="Sell a month's permit (at the counter, or from an account)",
    tag="operator", auth=Auth.OPERATOR, body=PermitSale, response=ParkingPermitDocument,
    errors=[404, 409], parameters=[LOT_PARAMETER],
)  # fmt: skip
async def post_operator_permit(call: Call) -> ParkingPermitDocument:
    body = call.body_as(PermitSale)
    permit = await sell_permit(
        parking_uows(call), lot_id_of(call), parse_month(body.month), by=Actor.of(call.user),
        credential_id=credential_number(body.credential_id), plate=body.plate,
        account_id=body.account_id, at_counter=body.account_id is None,
    )  # fmt: skip
    return permit_document(permit)


@routes.route(
    "GET", "/api/v1/operator/lots/{lot_id}/permits", summary="A lot's permits",
    tag="operator", auth=Auth.OPERATOR, query=PermitsQuery, response=PermitList,
    errors=[404], parameters=[LOT_PARAMETER],
)  # fmt: skip
async def get_operator_permits(call: Call) -> PermitList:
    month = call.query_as(PermitsQuery).month
    permits = await lot_permits(
        parking_uows(call), lot_id_of(call), None if month is None else parse_month(month)
    )
    return PermitList(permits=[permit_document(p) for p in permits])


def _account_id(call: Call) -> str:
    account_id = call.user.account_id
    if account_id is None:  # every passenger user has one
        raise Problem(403, "forbidden", "Forbidden", "this user has no rider account")
    return account_id


@routes.route(
    "POST", "/api/v1/passenger/permits",
    summary="Buy a month's parking permit from your account",
    tag="passenger", auth=Auth.PASSENGER, body=PassengerPermitSale, response=ParkingPermitDocument,
    errors=[404, 409],
)  # fmt: skip
async def post_passenger_permit(call: Call) -> ParkingPermitDocument:
    body = call.body_as(PassengerPermitSale)
    permit = await sell_permit(
        parking_uows(call), body.lot_id, parse_month(body.month), by=Actor.of(call.user),
        credential_id=credential_number(body.credential_id), plate=body.plate,
        account_id=_account_id(call),
    )  # fmt: skip
    return permit_document(permit)


@routes.route(
    "GET", "/api/v1/passenger/permits", summary="Your parking permits",
    tag="passenger", auth=Auth.PASSENGER, response=PermitList,
)  # fmt: skip
async def get_passenger_permits(call: Call) -> PermitList:
    permits = await account_permits(parking_uows(call), _account_id(call))
    return PermitList(permits=[permit_document(p) for p in permits])


# --- remote open ----------------------------------------------------------------------------


class BarrierList(msgspec.Struct, kw_only=True):
    lot_id: str
    barriers: list[str]


class OpenRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Text


def command_document(command: BarrierCommand) -> RemoteOpenDocument:
    return RemoteOpenDocument(
        command_id=command.command_id,
        lot_id=command.lot_id,
        device_id=command.device_id,
        reason=command.reason,
        requested_by=command.requested_by,
        requested_at=command.requested_at,
        executed_at=command.executed_at,
    )


@routes.route(
    "GET", "/api/v1/operator/lots/{lot_id}/barriers",
    summary="The barriers of a lot that can be opened from afar",
    tag="operator", auth=Auth.OPERATOR, response=BarrierList, errors=[404],
    parameters=[LOT_PARAMETER],
)  # fmt: skip
async def get_barriers(call: Call) -> BarrierList:
    lot_id = lot_id_of(call)
    barriers = await lot_barriers(parking_uows(call), lot_id)
    return BarrierList(lot_id=lot_id, barriers=barriers)


@routes.route(
    "POST", "/api/v1/operator/lots/{lot_id}/barriers/{device_id}/open",
    summary="Open a barrier from afar, with the reason (on its next sync)",
    tag="operator", auth=Auth.OPERATOR, body=OpenRequest, response=RemoteOpenDocument,
    errors=[404, 409], parameters=[LOT_PARAMETER, DEVICE_PARAMETER],
)  # fmt: skip
async def post_open(call: Call) -> RemoteOpenDocument:
    reason = call.body_as(OpenRequest).reason
    command = await open_barrier(
        parking_uows(call), lot_id_of(call), path_id(call, "device_id", "barrier"),
        reason=reason, by=Actor.of(call.user),
    )  # fmt: skip
    return command_document(command)


# --- inspector ------------------------------------------------------------------------------


class InspectionLot(msgspec.Struct, kw_only=True):
    lot_id: str
    name: str
    kind: LotKind
    address: str | None


class InspectionLots(msgspec.Struct, kw_only=True):
    lots: list[InspectionLot]


class CheckRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    lot_id: LotId
    plate: Plate


class CheckDocument(msgspec.Struct, kw_only=True):
    """`session`: an open stay at the lot (it pays on leaving); `permit`: a permit covering
    now; `nothing`: neither (follow it up)."""

    inspection_id: int | None
    lot_id: str
    lot_name: str
    plate: str  # normalised
    at: datetime
    result: Literal["session", "permit", "nothing"]
    session_id: str | None
    entered_at: datetime | None
    permit_id: str | None
    permit_until: datetime | None


@routes.route(
    "GET", "/api/v1/inspector/lots", summary="The on-street lots an inspector checks",
    tag="inspector", auth=Auth.INSPECTOR, response=InspectionLots,
)  # fmt: skip
async def get_inspection_lots(call: Call) -> InspectionLots:
    lots = await inspection_lots(parking_uows(call))
    return InspectionLots(
        lots=[
            InspectionLot(lot_id=lot.lot_id, name=lot.name, kind=lot.kind, address=lot.address)
            for lot in lots
        ]
    )


@routes.route(
    "POST", "/api/v1/inspector/checks", summary="Check a plate at an on-street lot",
    tag="inspector", auth=Auth.INSPECTOR, body=CheckRequest, response=CheckDocument,
    errors=[404],
)  # fmt: skip
async def post_check(call: Call) -> CheckDocument:
    body = call.body_as(CheckRequest)
    check = await check_plate(
        parking_uows(call), body.lot_id, body.plate, inspector=call.user.username
    )
    found = check.inspection
    result: Literal["session", "permit", "nothing"] = (
        "session" if found.result == "session" else "permit" if check.permit else "nothing"
    )
    return CheckDocument(
        inspection_id=found.inspection_id,
        lot_id=check.lot.lot_id,
        lot_name=check.lot.name,
        plate=found.plate,
        at=found.at,
        result=result,
        session_id=found.session_id,
        entered_at=None if check.session is None else check.session.entry_at,
        permit_id=found.permit_id,
        permit_until=None if check.permit is None else check.permit.valid_until,
    )
