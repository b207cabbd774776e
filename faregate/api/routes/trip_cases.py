"""Trip cases over HTTP (`ticketing.services.trip_cases`): a rider reports a problem on a trip,
finance refunds or declines it, the rider sees the outcome.

- `POST /api/v1/passenger/cases` `{"service_day", "started_at", "route_id", "kind", "note"}`
  (the trip as `GET /api/v1/passenger/trips` lists it): the case, `open`. 404 for a trip the
  account does not have; the same trip again while its case is open is that case.
- `GET /api/v1/passenger/cases`: the rider's cases, newest first, with their outcome.
- `GET /api/v1/finance/trip-cases?status=`: every rider's cases (one status if given).
- `POST /api/v1/finance/trip-cases/{case_id}/resolve` `{"decision": "refund" | "decline",
  "amount"?, "reason"}`: refund (1..the trip's fare, default all of it) through the ledger, or
  decline; in the audit log. 404 no such case, 409 decided already, 422 a refund above the fare.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated

import msgspec

from faregate.api.context import CONFIG, UOWS
from faregate.api.registry import Auth, Call, RouteRegistry
from ticketing.audit import Actor
from ticketing.riders import TripCase, TripCaseKind, TripCaseStatus
from ticketing.services import trip_cases

routes = RouteRegistry()

Text = Annotated[str, msgspec.Meta(max_length=trip_cases.MAX_NOTE)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=trip_cases.MAX_NOTE)]
CASE_PARAMETER = {
    "name": "case_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^tc-[0-9a-f]{16}$"},
}


class ReportRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    service_day: date
    started_at: datetime
    route_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    kind: TripCaseKind
    note: Text = ""


class Decision(enum.StrEnum):
    REFUND = "refund"
    DECLINE = "decline"


class ResolveRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    decision: Decision
    reason: Reason
    amount: Annotated[int, msgspec.Meta(ge=1)] | None = None  # a refund's; None: the whole fare


class TripCaseDocument(msgspec.Struct, kw_only=True):
    """`status`: `open`, `refunded` (`refunded` given back) or `declined` (`reason` why)."""

    case_id: str
    account_id: str
    service_day: date
    started_at: datetime
    route_id: str
    fare: int
    currency: str
    kind: TripCaseKind
    note: str
    status: TripCaseStatus
    opened_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    refunded: int | None
    reason: str | None


class TripCaseList(msgspec.Struct, kw_only=True):
    cases: list[TripCaseDocument]


class TripCaseQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    status: TripCaseStatus | None = None


def _document(case: TripCase) -> TripCaseDocument:
    return TripCaseDocument(
        case_id=case.id, account_id=case.account_id, service_day=case.service_day,
        started_at=case.started_at, route_id=case.route_id, fare=case.fare.amount,
        currency=case.fare.currency, kind=case.kind, note=case.note, status=case.status,
        opened_at=case.opened_at, resolved_at=case.resolved_at, resolved_by=case.resolved_by,
        refunded=None if case.refunded is None else case.refunded.amount, reason=case.reason,
    )  # fmt: skip


def _account_id(call: Call) -> str:
    account_id = call.user.account_id
    assert account_id is not None  # check_user gives every passenger user an account
    return account_id


@routes.route(
    "POST", "/api/v1/passenger/cases", summary="Report a problem on one of my trips",
    tag="passenger", auth=Auth.PASSENGER, body=ReportRequest, response=TripCaseDocument,
    errors=[404],
)  # fmt: skip
async def report_problem(call: Call) -> TripCaseDocument:
    request = call.body_as(ReportRequest)
    case = await trip_cases.report_problem(
        call.app[UOWS], _account_id(call), service_day=request.service_day,
        started_at=request.started_at, route_id=request.route_id, kind=request.kind,
        note=request.note, at=call.app[CONFIG].clock(),
    )  # fmt: skip
    return _document(case)


@routes.route(
    "GET", "/api/v1/passenger/cases", summary="The problems I reported and their outcome",
    tag="passenger", auth=Auth.PASSENGER, response=TripCaseList,
)  # fmt: skip
async def my_cases(call: Call) -> TripCaseList:
    found = await trip_cases.cases(call.app[UOWS], account_id=_account_id(call))
    return TripCaseList(cases=[_document(c) for c in found])


@routes.route(
    "GET", "/api/v1/finance/trip-cases", summary="Problems riders reported on trips",
    tag="finance", auth=Auth.FINANCE, query=TripCaseQuery, response=TripCaseList,
)  # fmt: skip
async def list_trip_cases(call: Call) -> TripCaseList:
    query = call.query_as(TripCaseQuery)
    found = await trip_cases.cases(call.app[UOWS], status=query.status)
    return TripCaseList(cases=[_document(c) for c in found])


@routes.route(
    "POST", "/api/v1/finance/trip-cases/{case_id}/resolve",
    summary="Refund a trip case through the ledger, or decline it with a reason",
    tag="finance", auth=Auth.FINANCE, body=ResolveRequest, response=TripCaseDocument,
    errors=[404, 409], parameters=[CASE_PARAMETER],
)  # fmt: skip
async def resolve_trip_case(call: Call) -> TripCaseDocument:
    request = call.body_as(ResolveRequest)
    case = await trip_cases.resolve_case(
        call.app[UOWS], call.request.match_info["case_id"],
        refund=request.decision is Decision.REFUND, amount=request.amount,
        reason=request.reason, by=Actor.of(call.user), at=call.app[CONFIG].clock(),
    )  # fmt: skip
    return _document(case)
