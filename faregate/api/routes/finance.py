"""Finance API (Auth.FINANCE): settlements, their exceptions and statement downloads.

Backed by `faregate.api.settlements.AppSettlements` (the app's own database and gateway)
unless `ApiConfig.settlements` replaces it. Every route authenticates, checks the finance role
and validates its input before calling it.

- `POST /api/v1/finance/settlements` `{"day": "YYYY-MM-DD"}`: settle a closed service day
  (409 before its cut-off, or while another settlement of it runs).
- `GET /api/v1/finance/settlements`: days and their settlement state.
- `GET /api/v1/finance/figures?day=`: a settled day's stored figures.
- `GET /api/v1/finance/exceptions?day=`: the exceptions the day's run found.
- `GET /api/v1/finance/statements?day=&name=`: a report file of a settled day.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web

from faregate.api.context import SETTLEMENTS
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.api.staff import Settlements

routes = RouteRegistry()
STATEMENT_CONTENT_TYPES = ("text/csv", "application/json", "text/html")
TEXT_TYPES = frozenset(STATEMENT_CONTENT_TYPES)
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


class FiguresDocument(msgspec.Struct, kw_only=True):
    day: date
    digest: str
    closed_by: str
    closed_at: datetime
    figures: dict[str, Any]


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
    return call.app[SETTLEMENTS]


@routes.route(
    "POST", "/api/v1/finance/settlements", summary="Settle a closed service day",
    tag="finance", auth=Auth.FINANCE, body=SettleRequest, response=SettlementStartedDocument,
    errors=[409, 502],
)  # fmt: skip
async def start_settlement(call: Call) -> SettlementStartedDocument:
    day = call.body_as(SettleRequest).day
    started = await _settlements(call).start(day, who=call.user.username)
    return msgspec.convert(started, SettlementStartedDocument, from_attributes=True)


@routes.route(
    "GET", "/api/v1/finance/settlements", summary="Service days and their settlement state "
    "", tag="finance", auth=Auth.FINANCE, response=SettlementList,
)  # fmt: skip
async def list_settlements(call: Call) -> SettlementList:
    days = await _settlements(call).days()
    return SettlementList(
        days=msgspec.convert(days, list[SettlementDayDocument], from_attributes=True)
    )


@routes.route(
    "GET", "/api/v1/finance/figures", summary="A settled day's figures",
    tag="finance", auth=Auth.FINANCE, query=DayQuery, response=FiguresDocument, errors=[404],
)  # fmt: skip
async def get_figures(call: Call) -> FiguresDocument:
    day = call.query_as(DayQuery).day
    found = await _settlements(call).figures(day)
    return msgspec.convert(found, FiguresDocument, from_attributes=True)


@routes.route(
    "GET", "/api/v1/finance/exceptions", summary="A day's reconciliation exceptions "
    "", tag="finance", auth=Auth.FINANCE, query=DayQuery,
    response=ExceptionList,
)  # fmt: skip
async def list_exceptions(call: Call) -> ExceptionList:
    day = call.query_as(DayQuery).day
    found = await _settlements(call).exceptions(day)
    return ExceptionList(
        day=day, exceptions=msgspec.convert(found, list[ExceptionDocument], from_attributes=True)
    )


@routes.route(
    "GET", "/api/v1/finance/statements", summary="Download a settled day's report file "
    "", tag="finance", auth=Auth.FINANCE, query=StatementQuery,
    response_content_type=STATEMENT_CONTENT_TYPES, errors=[404],
)  # fmt: skip
async def get_statement(call: Call) -> web.StreamResponse:
    query = call.query_as(StatementQuery)
    body, content_type = await _settlements(call).statement(query.day, query.name)
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8" if content_type in TEXT_TYPES else None,
        headers={"Content-Disposition": f'attachment; filename="{query.day}-{query.name}"'},
    )
