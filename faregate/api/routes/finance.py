"""Finance API (Auth.FINANCE): settlements, their exceptions and statement downloads.

Each route authenticates, checks the finance role, validates its input and makes one call:
`faregate.api.settlements.prepare` / `approve` (a request the app's settlement runner works
off the request), or a read of `ticketing.services.settlement_runs` / `settlement_days`, the
same the finance page and `faregate settle --list` make.

- `POST /api/v1/finance/settlements` `{"day": "YYYY-MM-DD"}`: prepare a closed service day
  (close, price, the charges and statements for review; no card charged). 202 at once with
  the run to follow (409 before its cut-off, or once approved: retry the approval).
- `GET /api/v1/finance/settlements/{day}`: that run: `state`, `stage` (the last done),
  `progress` (the stage running, done of total), who prepared and who approved, the error of
  a failed run, the figures for review.
- `POST /api/v1/finance/settlements/{day}/approve`: a second finance user approves the
  prepared day: the runner charges, reconciles, apportions and reports (202; 403 for the
  user who prepared it, 409 for a day not prepared).
- `GET /api/v1/finance/settlements/{day}/operators/{operator}?limit=`: an operator's figure of
  a settled day drilled down: the pools it had a share of (largest first), the legs its routes
  carried, the daily charges of the riders it carried (404 `not-settled` before).
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
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web

from faregate.api import settlements
from faregate.api.context import UOWS
from faregate.api.errors import Problem
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.web.finance import DOWNLOAD_HEADERS
from faregate_data.operators import load_operators
from ticketing.audit import Actor
from ticketing.services.settlement_days import (
    day_exceptions,
    list_days,
    report_file,
    settled_figures,
)
from ticketing.services.settlement_drilldown import DEFAULT_LIMIT, MAX_LIMIT, operator_drilldown
from ticketing.services.settlement_runs import SettlementRun, run_of
from ticketing.settlement.calendar import FIRST_DAY, LAST_DAY, check_day
from ticketing.settlement.errors import DayOutOfRange
from ticketing.settlement.writers import REPORT_TYPES

routes = RouteRegistry()
STATEMENT_CONTENT_TYPES = tuple(sorted(set(REPORT_TYPES.values())))
TEXT_TYPES = frozenset({"text/csv", "application/json", "text/html", "application/xml"})
REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # msgspec searches: anchored
STATEMENTS_PATH = "/api/v1/finance/statements"


class SettleRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    day: date


class ProgressDocument(msgspec.Struct, kw_only=True):
    stage: str  # the stage running
    done: int
    total: int


class SettlementRunDocument(msgspec.Struct, kw_only=True):
    day: date
    state: str  # open, closed, preparing, prepared, settling, failed, settled
    stage: str | None  # the last stage done
    progress: ProgressDocument | None  # while a runner works on the day
    prepared_by: str | None
    prepared_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    error: str | None  # why the run failed; asking again resumes it
    review: dict[str, Any] | None  # the charges and statements approving would release
    digest: str | None
    links: dict[str, str]


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


SETTLEMENT_DAY = "/api/v1/finance/settlements/{day}"
DAY_PARAMETER = {
    "name": "day", "in": "path", "required": True,
    "schema": {"type": "string", "format": "date"},
    "description": "The service day, YYYY-MM-DD (Asia/Ho_Chi_Minh)",
}  # fmt: skip


def _path_day(call: Call) -> date:
    text = call.request.match_info["day"]
    try:
        # a day settlement cannot handle (0265-07-09) is no resource, as one that does not
        # parse: 404, not the DayOutOfRange a query's day answers with (422)
        return check_day(date.fromisoformat(text))
    except (ValueError, DayOutOfRange):
        raise Problem(
            404, "no-such-day", "No such service day",
            f"{text[:40]!r} is not a service day (YYYY-MM-DD, {FIRST_DAY}..{LAST_DAY})",
        ) from None  # fmt: skip


def _run_document(run: SettlementRun) -> SettlementRunDocument:
    day = run.day.isoformat()
    links = {"self": SETTLEMENT_DAY.format(day=day)}
    if run.state == "prepared":
        links["approve"] = f"{links['self']}/approve"
    if run.digest is not None:
        links["report"] = f"{STATEMENTS_PATH}?day={day}&name=report.html"
        links["figures"] = f"/api/v1/finance/figures?day={day}"
    return SettlementRunDocument(
        day=run.day,
        state=str(run.state),
        stage=None if run.stage is None else str(run.stage),
        progress=None
        if run.progress is None
        else ProgressDocument(
            stage=str(run.progress.stage), done=run.progress.done, total=run.progress.total
        ),
        prepared_by=run.prepared_by,
        prepared_at=run.prepared_at,
        approved_by=run.approved_by,
        approved_at=run.approved_at,
        error=run.error,
        review=None if run.review is None else run.review.as_json(),
        digest=run.digest,
        links=links,
    )


@routes.route(
    "POST", "/api/v1/finance/settlements", summary="Prepare a closed service day for approval",
    tag="finance", auth=Auth.FINANCE, body=SettleRequest, response=SettlementRunDocument,
    errors=[409, 422], status=202,
)  # fmt: skip
async def start_settlement(call: Call) -> SettlementRunDocument:
    day = call.body_as(SettleRequest).day
    run = await settlements.prepare(call.app, day, Actor.of(call.user))
    return _run_document(run)


@routes.route(
    "GET", SETTLEMENT_DAY, summary="A day's settlement run: state, stage, progress, who",
    tag="finance", auth=Auth.FINANCE, response=SettlementRunDocument, errors=[404],
    parameters=[DAY_PARAMETER],
)  # fmt: skip
async def get_settlement(call: Call) -> SettlementRunDocument:
    return _run_document(await run_of(call.app[UOWS], _path_day(call)))


@routes.route(
    "POST", SETTLEMENT_DAY + "/approve", summary="Approve a prepared day: charge and release",
    tag="finance", auth=Auth.FINANCE, response=SettlementRunDocument, errors=[404, 409],
    parameters=[DAY_PARAMETER], status=202,
)  # fmt: skip
async def approve_settlement(call: Call) -> SettlementRunDocument:
    day = _path_day(call)
    run = await settlements.approve(call.app, day, Actor.of(call.user))
    return _run_document(run)


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
        headers={
            "Content-Disposition": f'attachment; filename="{query.day}-{query.name}"',
            **DOWNLOAD_HEADERS,
        },
    )


class DrilldownQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT


class PoolShareDocument(msgspec.Struct, kw_only=True):
    pool_id: str
    kind: str  # single, transfer, cap, pass, adjustment
    amount: int  # the pool
    weight: int  # the operator's undiscounted value in it
    weights_total: int
    share: int  # the operator's share of it, as apportioned


class OperatorLegDocument(msgspec.Struct, kw_only=True):
    account_id: str
    leg_index: int
    route_id: str
    from_stop: str
    to_stop: str | None
    started_at: datetime
    fare_product: str | None
    charged: int
    undiscounted: int
    capped: bool
    pass_product: str | None


class DayChargeDocument(msgspec.Struct, kw_only=True):
    attempt_id: str
    account_id: str
    amount: int
    currency: str
    status: str
    gateway_ref: str | None


class OperatorDrilldownDocument(msgspec.Struct, kw_only=True):
    day: date
    operator: str
    name: str
    currency: str
    apportioned: int  # the sum of its pool shares: its statement's revenue
    pools_count: int
    pools: list[PoolShareDocument]  # largest share first, at most `limit`
    legs: list[OperatorLegDocument]  # at most `limit`
    charges: list[DayChargeDocument]  # the daily charges of the riders it carried


@routes.route(
    "GET", SETTLEMENT_DAY + "/operators/{operator}",
    summary="An operator's figure of a settled day: its pools, legs and charges",
    tag="finance", auth=Auth.FINANCE, query=DrilldownQuery,
    response=OperatorDrilldownDocument, errors=[404],
    parameters=[
        DAY_PARAMETER,
        {"name": "operator", "in": "path", "required": True, "schema": {"type": "string"}},
    ],
)  # fmt: skip
async def get_operator_drilldown(call: Call) -> OperatorDrilldownDocument:
    day = _path_day(call)
    operator = call.request.match_info["operator"][:64]
    found = await operator_drilldown(
        call.app[UOWS], day, operator, limit=call.query_as(DrilldownQuery).limit
    )
    return OperatorDrilldownDocument(
        day=found.day,
        operator=found.operator,
        name=load_operators().name(operator),
        currency=found.currency,
        apportioned=found.apportioned,
        pools_count=found.pools_count,
        pools=msgspec.convert(found.pools, list[PoolShareDocument], from_attributes=True),
        legs=msgspec.convert(found.legs, list[OperatorLegDocument], from_attributes=True),
        charges=msgspec.convert(found.charges, list[DayChargeDocument], from_attributes=True),
    )
