"""Finance API (Auth.FINANCE): settlements, their exceptions and statement downloads.

SHELLS on this build: every route authenticates, checks the finance role and validates its
input, then answers 501 until `ApiConfig.settlements` is wired to the settlement use cases
(`faregate.api.staff.Settlements`, to be backed by `ticketing.services.settlement`).

- `POST /api/v1/finance/settlements` `{"day": "YYYY-MM-DD"}`: settle a closed service day.
- `GET /api/v1/finance/settlements`: days and their settlement state.
- `GET /api/v1/finance/exceptions?day=`: the day's open reconciliation exceptions.
- `GET /api/v1/finance/statements?day=&name=`: a report file of a settled day.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

import msgspec
from aiohttp import web

from faregate.api.context import CONFIG
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.api.staff import Settlements, not_wired

routes = RouteRegistry()
REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # msgspec searches: anchored


class SettleRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    day: date


class SettlementStartedDocument(msgspec.Struct, kw_only=True):
    day: date
    already_settled: bool
    summary: dict[str, Any]


class SettlementDayDocument(msgspec.Struct, kw_only=True):
    day: date
    state: str
    digest: str | None
    adjustments_waiting: int


class SettlementList(msgspec.Struct, kw_only=True):
    days: list[SettlementDayDocument]


class DayQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    day: date


class ExceptionDocument(msgspec.Struct, kw_only=True):
    kind: str
    reference: str
    amount: int
    currency: str
    first_seen: date
    detail: str


class ExceptionList(msgspec.Struct, kw_only=True):
    day: date
    exceptions: list[ExceptionDocument]


class StatementQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    day: date
    name: Annotated[str, msgspec.Meta(pattern=REPORT_NAME.pattern, max_length=100)]


def _settlements(call: Call) -> Settlements:
    settlements = call.app[CONFIG].settlements
    if settlements is None:
        raise not_wired("settlement", "ticketing.services.settlement")
    return settlements


@routes.route(
    "POST", "/api/v1/finance/settlements", summary="Settle a closed service day (not wired yet)",
    tag="finance", auth=Auth.FINANCE, body=SettleRequest, response=SettlementStartedDocument,
    errors=[409, 501],
)  # fmt: skip
async def start_settlement(call: Call) -> SettlementStartedDocument:
    day = call.body_as(SettleRequest).day
    started = await _settlements(call).start(day, who=call.user.username)
    return msgspec.convert(started, SettlementStartedDocument, from_attributes=True)


@routes.route(
    "GET", "/api/v1/finance/settlements", summary="Service days and their settlement state "
    "(not wired yet)", tag="finance", auth=Auth.FINANCE, response=SettlementList, errors=[501],
)  # fmt: skip
async def list_settlements(call: Call) -> SettlementList:
    days = await _settlements(call).days()
    return SettlementList(
        days=msgspec.convert(days, list[SettlementDayDocument], from_attributes=True)
    )


@routes.route(
    "GET", "/api/v1/finance/exceptions", summary="A day's reconciliation exceptions "
    "(not wired yet)", tag="finance", auth=Auth.FINANCE, query=DayQuery,
    response=ExceptionList, errors=[501],
)  # fmt: skip
async def list_exceptions(call: Call) -> ExceptionList:
    day = call.query_as(DayQuery).day
    found = await _settlements(call).exceptions(day)
    return ExceptionList(
        day=day, exceptions=msgspec.convert(found, list[ExceptionDocument], from_attributes=True)
    )


@routes.route(
    "GET", "/api/v1/finance/statements", summary="Download a settled day's report file "
    "(not wired yet)", tag="finance", auth=Auth.FINANCE, query=StatementQuery,
    response_content_type="application/octet-stream", errors=[404, 501],
)  # fmt: skip
async def get_statement(call: Call) -> web.StreamResponse:
    query = call.query_as(StatementQuery)
    body, content_type = await _settlements(call).statement(query.day, query.name)
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{query.day}-{query.name}"'},
    )
