"""Finance API (Auth.FINANCE): settlements, their exceptions and statement downloads.

Each route authenticates, checks the finance role, validates its input and makes one call:
`faregate.api.settlements.start_settlement` (the settlement run with the app's gateway) or a
read of `ticketing.services.settlement_days`, the same the finance page and `faregate settle
--list` make.

- `POST /api/v1/finance/settlements` `{"day": "YYYY-MM-DD"}`: settle a closed service day
  (409 before its cut-off, or while another settlement of it runs).
- `GET /api/v1/finance/settlements`: days and their settlement state.
- `GET /api/v1/finance/figures?day=`: a settled day's stored figures.
- `GET /api/v1/finance/exceptions?day=`: the exceptions the day's run found.
- `GET /api/v1/finance/statements?day=&name=`: a report file of a settled day.

A day not settled yet is a 404 `not-settled`; a report name no run writes, or a report not in
this server's data directory, a 404 `no-such-statement`.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web

from faregate.api import settlements
from faregate.api.context import UOWS
from faregate.api.registry import Auth, Call, RouteRegistry
from ticketing.audit import Actor
from ticketing.services.settlement_days import (
    day_exceptions,
    list_days,
    report_file,
    settled_figures,
)
from ticketing.settlement.writers import REPORT_TYPES

routes = RouteRegistry()
STATEMENT_CONTENT_TYPES = tuple(sorted(set(REPORT_TYPES.values())))
TEXT_TYPES = frozenset({"text/csv", "application/json", "text/html", "application/xml"})
REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # msgspec searches: anchored
STATEMENTS_PATH = "/api/v1/finance/statements"


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
    error: str | None  # why the last run failed, until a run resumes it
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


@routes.route(
    "POST", "/api/v1/finance/settlements", summary="Settle a closed service day",
    tag="finance", auth=Auth.FINANCE, body=SettleRequest, response=SettlementStartedDocument,
    errors=[409, 422, 502],
)  # fmt: skip
async def start_settlement(call: Call) -> SettlementStartedDocument:
    day = call.body_as(SettleRequest).day
    outcome = await settlements.start_settlement(call.app, day, who=Actor.of(call.user))
    report = f"{STATEMENTS_PATH}?day={day.isoformat()}&name=report.html"
    return SettlementStartedDocument(
        day=day,
        already_settled=outcome.already_settled,
        summary=replace(outcome.summary, report=report).as_json(),
    )


@routes.route(
    "GET", "/api/v1/finance/settlements", summary="Service days and their settlement state "
    "", tag="finance", auth=Auth.FINANCE, response=SettlementList,
)  # fmt: skip
async def list_settlements(call: Call) -> SettlementList:
    days = await list_days(call.app[UOWS])
    return SettlementList(
        days=msgspec.convert(days, list[SettlementDayDocument], from_attributes=True)
    )


@routes.route(
    "GET", "/api/v1/finance/figures", summary="A settled day's figures",
    tag="finance", auth=Auth.FINANCE, query=DayQuery, response=FiguresDocument, errors=[404],
)  # fmt: skip
async def get_figures(call: Call) -> FiguresDocument:
    day = call.query_as(DayQuery).day
    found = await settled_figures(call.app[UOWS], day)
    return msgspec.convert(found, FiguresDocument, from_attributes=True)


@routes.route(
    "GET", "/api/v1/finance/exceptions", summary="A day's reconciliation exceptions "
    "", tag="finance", auth=Auth.FINANCE, query=DayQuery,
    response=ExceptionList,
)  # fmt: skip
async def list_exceptions(call: Call) -> ExceptionList:
    day = call.query_as(DayQuery).day
    return ExceptionList(
        day=day,
        exceptions=[
            ExceptionDocument(
                kind=e.kind,
                reference=e.reference,
                amount=e.amount.amount,
                currency=e.amount.currency,
                first_seen=e.first_seen,
                detail=json.dumps(e.detail, sort_keys=True, ensure_ascii=False),
            )
            for e in await day_exceptions(call.app[UOWS], day)
        ],
    )


@routes.route(
    "GET", "/api/v1/finance/statements", summary="Download a settled day's report file "
    "", tag="finance", auth=Auth.FINANCE, query=StatementQuery,
    response_content_type=STATEMENT_CONTENT_TYPES, errors=[404],
)  # fmt: skip
async def get_statement(call: Call) -> web.StreamResponse:
    query = call.query_as(StatementQuery)
    found = await report_file(
        call.app[UOWS],
        query.day,
        query.name,
        report_dir=settlements.report_dir(call.app, query.day),
    )
    return web.Response(
        body=found.body,
        content_type=found.content_type,
        charset="utf-8" if found.content_type in TEXT_TYPES else None,
        headers={"Content-Disposition": f'attachment; filename="{query.day}-{query.name}"'},
    )
