"""The finance page's data: the settlement service's reads, the same calls the finance API makes.

`SettlementsFinance` is a `FinanceSource` over `ticketing.services.settlement_days` (each day's
status and totals, a settled day's figures, exceptions and report files), `settlement_runs`
(the day's run: state, progress, who, the figures for review) and the app's way to prepare and
approve a settlement (`start`, `approve`: the finance API's, so the page and an API caller
follow the same rules). No query of its own, so the page and the API cannot disagree. A refusal
(a day before its cut-off, a run already going: any `TicketingError`, or one of `refusals`)
becomes the page's one `Error:` line.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from faregate.errors import SettlementRefused
from faregate.i18n import money_of
from faregate.web.finance import (
    ControlStatus,
    DayReport,
    Download,
    OperatorRevenue,
    ReviewCharge,
    ReviewStatement,
    RunPanel,
    SettlementDay,
    SettlementException,
)
from faregate.web.pages import STAFF_USER
from faregate_data.operators import load_operators
from ticketing.audit import Actor, ActorRole
from ticketing.errors import TicketingError
from ticketing.money import Money
from ticketing.services.settlement_days import (
    DayListing,
    DayStatus,
    day_exceptions,
    day_status,
    list_days,
    report_file,
    settled_figures,
)
from ticketing.services.settlement_drilldown import operator_drilldown
from ticketing.services.settlement_runs import run_of
from ticketing.settlement.drilldown import OperatorDrilldown
from ticketing.settlement.errors import DayNotSettled, NoSuchStatement
from ticketing.settlement.writers import REPORT_TYPES, Report
from ticketing.unit_of_work import UnitOfWorkFactory

Start = Callable[[web.Request, date, Actor], Awaitable[object]]


def readable_detail(detail: Mapping[str, Any], currency: str) -> str:
    """An exception's detail as finance reads it: a reconciliation line's fields (amounts on
    each side, the day of the record, what sits in suspense) in one line; other fields as
    their JSON."""

    def money(key: str) -> str:
        value = detail.get(key)
        return "none" if not isinstance(value, int) else money_of(Money(value, currency))

    parts = []
    if "ledger_amount" in detail or "gateway_amount" in detail:
        parts.append(f"ledger {money('ledger_amount')}, gateway {money('gateway_amount')}")
    if isinstance(detail.get("record_day"), str):
        parts.append(f"recorded {detail['record_day']}")
    if isinstance(detail.get("suspense"), int) and detail["suspense"]:
        parts.append(f"{money('suspense')} in suspense")
    if isinstance(detail.get("account"), str):
        parts.append(f"account {detail['account']}")
    if isinstance(detail.get("route"), str):
        parts.append(f"route {detail['route']}")
    return "; ".join(parts) or json.dumps(detail, sort_keys=True, ensure_ascii=False)


def _day(listing: DayListing) -> SettlementDay:
    totals = listing.totals
    return SettlementDay(
        service_day=listing.day,
        status=listing.status,
        control=ControlStatus.NOT_RUN
        if totals is None
        else ControlStatus.BALANCED
        if totals.controls_ok
        else ControlStatus.OUT_OF_BALANCE,
        taps=None if totals is None else totals.taps,
        collected=None if totals is None else totals.collected,
        exceptions=None if totals is None else totals.exceptions,
        waiting=listing.state == "adjustments waiting",
        error=listing.error,
    )


class SettlementsFinance:
    """A `FinanceSource` over the settlement service (module docstring): `uows` gives the
    request's database, `report_dir` where a day's reports are, `start` runs a settlement;
    operators are shown by their names in `operator_names` (default: the operator registry)."""

    def __init__(
        self,
        uows: Callable[[web.Request], UnitOfWorkFactory],
        *,
        report_dir: Callable[[date], Path],
        start: Start,
        approve: Start | None = None,
        refusals: tuple[type[Exception], ...] = (),
        operator_names: Mapping[str, str] | None = None,
    ) -> None:
        self._uows = uows
        self._report_dir = report_dir
        self._start = start
        self._approve = approve
        # Operators by name (the shipped registry's unless given); an unknown id as itself.
        self._names = load_operators().names() if operator_names is None else operator_names
        self._refusals: tuple[type[Exception], ...] = (TicketingError, *refusals)

    async def list_days(self, request: web.Request) -> list[SettlementDay]:
        return [_day(listing) for listing in reversed(await list_days(self._uows(request)))]

    async def report(self, request: web.Request, day: date) -> DayReport | None:
        uows = self._uows(request)
        listing = await day_status(uows, day)
        if listing is None:
            return None
        if listing.status is not DayStatus.SETTLED:
            return DayReport(
                day=_day(listing), by_operator=(), by_hour=(), exceptions=(), downloads=()
            )
        figures = await settled_figures(uows, day)
        return DayReport(
            day=_day(listing),
            by_operator=tuple(
                OperatorRevenue(
                    operator=self._names.get(s.operator, s.operator),
                    gross=s.gross,
                    net=s.net,
                    operator_id=s.operator,
                )
                for s in figures.statements
            ),
            by_hour=figures.by_hour,
            exceptions=tuple(
                SettlementException(
                    kind=e.kind.replace("_", " "),
                    reference=e.reference,
                    amount=e.amount,
                    since=e.first_seen,
                    detail=readable_detail(e.detail, e.amount.currency),
                )
                for e in await day_exceptions(uows, day)
            ),
            downloads=tuple(
                Download(
                    label=label,
                    href=str(
                        request.app.router["finance_file"].url_for(day=day.isoformat(), name=name)
                    ),
                )
                for name, label in ((str(r), r.label) for r in Report)
            ),
        )

    async def file(self, request: web.Request, day: date, name: str) -> tuple[bytes, str] | None:
        if name not in REPORT_TYPES:
            return None
        try:
            found = await report_file(
                self._uows(request), day, name, report_dir=self._report_dir(day)
            )
        except (DayNotSettled, NoSuchStatement):
            return None
        return found.body, found.content_type

    async def start_settlement(self, request: web.Request, day: date) -> None:
        await self._act(self._start, request, day)

    async def approve_settlement(self, request: web.Request, day: date) -> None:
        if self._approve is None:
            raise SettlementRefused("approving is not offered here")
        await self._act(self._approve, request, day)

    async def _act(self, act: Start, request: web.Request, day: date) -> None:
        try:
            await act(request, day, _who(request))
        except self._refusals as exc:  # not closed yet, the same user approving...
            raise SettlementRefused(str(exc)) from exc

    async def run(self, request: web.Request, day: date) -> RunPanel | None:
        run = await run_of(self._uows(request), day)
        if run.stage is None:
            return None
        progress, review = run.progress, run.review
        currency = review.currency if review is not None else "VND"
        statements = () if review is None else review.statements
        return RunPanel(
            state=str(run.state),
            stage=str(run.stage),
            running=None if progress is None else str(progress.stage),
            done=0 if progress is None else progress.done,
            total=0 if progress is None else progress.total,
            prepared_by=run.prepared_by,
            prepared_at=run.prepared_at,
            approved_by=run.approved_by,
            approved_at=run.approved_at,
            error=run.error,
            charges=None if review is None else review.charges,
            charges_total=None if review is None else review.charges_money,
            largest=()
            if review is None
            else tuple(
                ReviewCharge(account=a, amount=Money(n, currency)) for a, n in review.largest
            ),
            statements=tuple(
                ReviewStatement(
                    operator=self._names.get(s.operator, s.operator),
                    rides=s.rides,
                    gross=Money(s.gross, currency),
                    net=Money(s.net, currency),
                )
                for s in statements
            ),
            can_approve=str(run.state) == "prepared" and run.prepared_by != _who(request).name,
            operators=tuple(
                (s.operator, self._names.get(s.operator, s.operator)) for s in statements
            ),
        )

    async def drilldown(
        self, request: web.Request, day: date, operator: str
    ) -> OperatorDrilldown | None:
        try:
            return await operator_drilldown(self._uows(request), day, operator)
        except DayNotSettled:
            return None


def _who(request: web.Request) -> Actor:
    user = request.get(STAFF_USER)
    # Unguarded (a test of the page alone): nobody signed in, the page itself acts.
    return Actor("finance page", ActorRole.FINANCE) if user is None else Actor.of(user)
