"""The finance page (`/finance`): settlement days with their control status, one day's revenue
by operator and by hour, its exceptions and statements, and the day's settlement run with four
eyes: a button that prepares a closed day (after a confirmation step), the run's live progress
(`finance.js` polls `/finance/days/{day}/run`), the figures for review, and a button that
approves it (after a confirmation step) for a finance user other than the one who prepared it.

PLACEHOLDER CONTRACT. Settlement, statements and finance sign-in do not exist yet; the
dataclasses below are what the page needs, and the API round fills them from the settlement
service through a `FinanceSource`. The page, the button's POST and their tests are real; the
data behind them is the test's. Who may open the page (finance staff only) is for the API
round's sessions and roles to enforce.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from aiohttp import web

from faregate.errors import SettlementRefused
from faregate.i18n import N_
from faregate.web.charts import bar_chart
from faregate.web.pages import render_staff, words
from faregate.web.refusals import error_line
from faregate.web.staff import FORM_EXPIRED, FORM_TOKEN, FORM_TOKEN_FIELD, form_token_ok
from faregate_data.operators import load_operators
from ticketing.money import Money
from ticketing.services.settlement_days import DayStatus  # open, closed, settling, settled
from ticketing.settlement.calendar import FIRST_DAY, LAST_DAY, check_day
from ticketing.settlement.drilldown import OperatorDrilldown
from ticketing.settlement.errors import DayOutOfRange


class ControlStatus(enum.StrEnum):
    NOT_RUN = "not_run"
    BALANCED = "balanced"  # trial balance zero; payables + fees + suspense = money collected
    OUT_OF_BALANCE = "out_of_balance"


CONTROL_TEXT = {
    ControlStatus.NOT_RUN: N_("Not run"),
    ControlStatus.BALANCED: N_("Balanced"),
    ControlStatus.OUT_OF_BALANCE: N_("Out of balance"),
}
# A day's status and a run's state as the page names them (finance.js names a run's the same).
STATE_TEXT = {
    "open": N_("Open"),
    "closed": N_("Closed"),
    "preparing": N_("Preparing"),
    "prepared": N_("Prepared"),
    "settling": N_("Settling"),
    "failed": N_("Failed"),
    "settled": N_("Settled"),
}
# Words the sources put on the page, which it translates as it shows them: the report files'
# labels (ticketing.settlement.writers) and the exceptions' kinds.
SOURCE_WORDS = (
    N_("Operator statements (Excel)"), N_("Operator statements (CSV)"),
    N_("Operator statements (JSON)"), N_("Exceptions (Excel)"), N_("Exceptions (CSV)"),
    N_("Exceptions (JSON)"), N_("General-ledger journal (CSV)"),
    N_("Operator payouts (ISO 20022 pain.001 XML)"), N_("Controls (JSON)"),
    N_("Every settled figure and the digest (JSON)"), N_("Settlement report (HTML)"),
    N_("missing at gateway"), N_("unknown at gateway"), N_("amount mismatch"), N_("duplicate"),
    N_("refund"), N_("unpriced leg"), N_("uncollected"), N_("uncollected parking"),
    N_("shared code"),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementDay:
    service_day: date
    status: DayStatus
    control: ControlStatus
    taps: int | None  # None until settled (the run counts them)
    collected: Money | None  # None until settled
    exceptions: int | None  # None until settled
    waiting: bool = False  # settled, and later taps wait to be settled as adjustments
    error: str | None = None  # why its last run failed, until a retry resumes it


@dataclass(frozen=True, slots=True, kw_only=True)
class Download:
    label: str  # "Statement, Hanoi Metro (CSV)"
    href: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorRevenue:
    operator: str
    gross: Money
    net: Money
    operator_id: str = ""  # for the drill-down link ("": none)


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementException:
    kind: str  # missing at gateway, unknown at gateway, amount mismatch, duplicate, refund...
    reference: str
    amount: Money
    since: date  # the service day it arose on: its age
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewCharge:
    account: str
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewStatement:
    operator: str  # the operator's name
    rides: int
    gross: Money
    net: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPanel:
    """A day's settlement run as the page shows it."""

    state: str  # open, closed, preparing, prepared, settling, failed, settled
    stage: str | None  # the last stage done
    running: str | None  # the stage running now
    done: int
    total: int
    prepared_by: str | None
    prepared_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    error: str | None
    charges: int | None  # for review: the card charges approving would make
    charges_total: Money | None
    largest: tuple[ReviewCharge, ...] = ()
    statements: tuple[ReviewStatement, ...] = ()
    can_approve: bool = False  # prepared, and not by the user looking at it
    operators: tuple[tuple[str, str], ...] = ()  # (id, name) of the drill-down links

    @property
    def working(self) -> bool:
        return self.state in ("preparing", "settling")

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "stage": self.stage,
            "running": self.running,
            "done": self.done,
            "total": self.total,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DayReport:
    day: SettlementDay
    by_operator: tuple[OperatorRevenue, ...]
    by_hour: tuple[Money, ...]  # 24 amounts, hour 0 first (Hanoi time)
    exceptions: tuple[SettlementException, ...]
    downloads: tuple[Download, ...]


class FinanceSource(Protocol):
    async def list_days(self, request: web.Request) -> Sequence[SettlementDay]:
        """Settlement days, newest first."""
        ...

    async def report(self, request: web.Request, day: date) -> DayReport | None:
        """The report of `day`, or None when there is no such day."""
        ...

    async def start_settlement(self, request: web.Request, day: date) -> None:
        """Ask for a closed day to be prepared; SettlementRefused when it cannot be."""
        ...

    async def approve_settlement(self, request: web.Request, day: date) -> None:
        """Approve a prepared day as the signed-in user; SettlementRefused when they cannot."""
        ...

    async def run(self, request: web.Request, day: date) -> RunPanel | None:
        """The day's settlement run; None when the day has none to show."""
        ...

    async def drilldown(
        self, request: web.Request, day: date, operator: str
    ) -> OperatorDrilldown | None:
        """An operator's figure of settled `day`: its pools, legs and charges; None when the
        day is not settled."""
        ...

    async def file(self, request: web.Request, day: date, name: str) -> tuple[bytes, str] | None:
        """A report file of a settled day and its content type; None: no such file."""
        ...


FINANCE_SOURCE = web.AppKey("finance_source", FinanceSource)
# A report file (report.html among them) is a download, never a page of our origin: no script
# runs in it if opened, and no browser guesses it is something else. The finance API's
# statement downloads send the same.
DOWNLOAD_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
OPERATOR_NAMES = load_operators().names()


def _parse_day(text: str) -> date:
    try:
        return check_day(date.fromisoformat(text))
    except (ValueError, DayOutOfRange):
        raise web.HTTPBadRequest(
            text=f"Error: {text[:40]!r} is not a day from {FIRST_DAY} to {LAST_DAY} (YYYY-MM-DD)"
        ) from None


async def _page(
    request: web.Request, *, status: int = 200, error: str | None = None, notice: str | None = None
) -> web.Response:
    source = request.app[FINANCE_SOURCE]
    days = list(await source.list_days(request))
    asked = request.query.get("day")
    wanted = None if asked is None else _parse_day(asked)
    if wanted is None:
        settled = [d for d in days if d.status is DayStatus.SETTLED]
        wanted = settled[0].service_day if settled else None
    report = None if wanted is None else await source.report(request, wanted)
    run = None if wanted is None else await source.run(request, wanted)
    confirm = request.query.get("confirm")
    charts = (
        None
        if report is None
        else (
            bar_chart(
                N_("Net revenue by operator"), [(r.operator, r.net) for r in report.by_operator]
            ),
            bar_chart(
                N_("Fares and parking fees charged by hour (Hanoi time)"),
                [(f"{hour:02d}", amount) for hour, amount in enumerate(report.by_hour)],
            ),
        )
    )
    return render_staff(
        request,
        "finance.html",
        status=status,
        days=days,
        report=report,
        charts=charts,
        wanted=wanted,
        error=error,
        notice=notice,
        control_text=CONTROL_TEXT,
        state_text=STATE_TEXT,
        run=run,
        confirm=confirm if confirm in ("prepare", "approve") else None,
        url_for_settle=lambda day: str(
            request.app.router["finance_settle"].url_for(day=day.isoformat())
        ),
        url_for_approve=lambda day: str(
            request.app.router["finance_approve"].url_for(day=day.isoformat())
        ),
        url_for_run=lambda day: str(request.app.router["finance_run"].url_for(day=day.isoformat())),
        url_for_operator=lambda day, operator: (
            str(
                request.app.router["finance_operator"].url_for(
                    day=day.isoformat(), operator=operator
                )
            )
            if "finance_operator" in request.app.router
            else None
        ),
        DayStatus=DayStatus,
        ControlStatus=ControlStatus,
        form_token=request.get(FORM_TOKEN, ""),
        form_token_field=FORM_TOKEN_FIELD,
        audit_url=(
            str(request.app.router["finance_audit"].url_for())
            if "finance_audit" in request.app.router
            else None
        ),
    )


NOTICES = {
    "started": N_(
        "Preparing the settlement of {day}: its progress is below; no card is charged until "
        "another finance user approves it."
    ),
    "approved": N_("Settlement of {day} approved: its cards are being charged; progress below."),
}


async def finance_page(request: web.Request) -> web.Response:
    notice = None
    for key, text in NOTICES.items():
        if key in request.query:
            notice = words(request)(text).format(day=request.query[key][:10])
    return await _page(request, notice=notice)


async def _act(request: web.Request, approve: bool) -> web.Response:
    day = _parse_day(request.match_info["day"])
    form = await request.post()
    if not form_token_ok(request, str(form.get(FORM_TOKEN_FIELD, ""))[:200]):
        return await _page(request, status=403, error=words(request)(FORM_EXPIRED))
    source = request.app[FINANCE_SOURCE]
    try:
        if approve:
            await source.approve_settlement(request, day)
        else:
            await source.start_settlement(request, day)
    except SettlementRefused as exc:
        return await _page(request, status=409, error=error_line(request, exc))
    # Post/redirect/get: reloading the page afterwards does not post again.
    done = "approved" if approve else "started"
    location = (
        request.app.router["finance"]
        .url_for()
        .with_query({"day": day.isoformat(), done: day.isoformat()})
    )
    raise web.HTTPSeeOther(location)


async def start_settlement(request: web.Request) -> web.Response:
    """Prepare a closed day (the form the confirmation step shows)."""
    return await _act(request, approve=False)


async def approve_settlement(request: web.Request) -> web.Response:
    """Approve a prepared day (the form the confirmation step shows)."""
    return await _act(request, approve=True)


async def operator_figure_page(request: web.Request) -> web.Response:
    """An operator's figure of a settled day, drilled down to its pools, legs and charges."""
    day = _parse_day(request.match_info["day"])
    operator = request.match_info["operator"][:64]
    found = await request.app[FINANCE_SOURCE].drilldown(request, day, operator)
    if found is None:
        raise web.HTTPNotFound(text=f"Error: {day.isoformat()} is not settled")
    return render_staff(
        request,
        "finance_operator.html",
        found=found,
        name=OPERATOR_NAMES.get(operator, operator),
        money=lambda amount: Money(amount, found.currency),
        back=str(request.app.router["finance"].url_for().with_query(day=day.isoformat())),
    )


async def run_status(request: web.Request) -> web.Response:
    """The day's run as JSON, for the page's progress poll."""
    day = _parse_day(request.match_info["day"])
    run = await request.app[FINANCE_SOURCE].run(request, day)
    if run is None:
        raise web.HTTPNotFound(text=f"Error: no settlement run of {day.isoformat()}")
    return web.json_response(run.as_json(), headers={"Cache-Control": "no-store"})


async def report_file(request: web.Request) -> web.Response:
    """A settled day's report file, as a download (never rendered on our origin)."""
    day = _parse_day(request.match_info["day"])
    name = request.match_info["name"]
    found = await request.app[FINANCE_SOURCE].file(request, day, name)
    if found is None:
        raise web.HTTPNotFound(text=f"Error: no report file {name!r} for {day.isoformat()}")
    body, content_type = found
    return web.Response(
        body=body,
        content_type=content_type.split(";")[0].strip(),
        headers={
            "Content-Disposition": f'attachment; filename="{day.isoformat()}-{name}"',
            **DOWNLOAD_HEADERS,
        },
    )
