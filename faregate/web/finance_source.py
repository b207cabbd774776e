"""The finance page's data from the settlement service, through the finance API's interface.

`SettlementsFinance(backend)` is a `FinanceSource` over `backend`, the same object the finance
API calls (`ApiConfig.settlements`, an implementation of `faregate.api.staff.Settlements`):
days and their state from `days()`, a settled day's stored figures from `figures()`, its
exceptions from `exceptions()`, its report files from `statement()`, the settle button through
`start()`. No query of its own, so the page and the API cannot disagree. The backend's
refusals (`refusals`: the API's `Problem`, e.g. a day before its cut-off or a run already
going) become the page's one `Error:` line.

The interface is restated here structurally (`SettlementBackend`): `faregate.api` mounts the
pages, so the pages cannot import it back without a package cycle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from aiohttp import web

from faregate.errors import SettlementRefused
from faregate.web.finance import (
    ControlStatus,
    DayReport,
    DayStatus,
    Download,
    OperatorRevenue,
    SettlementDay,
    SettlementException,
)
from faregate.web.staff import STAFF_USER
from qr.timeutil import Clock, utc_now
from ticketing.errors import TicketingError
from ticketing.money import Money
from ticketing.services.settlement import cut_off

# What finance may download of a settled day (the run's report files), with link labels.
REPORT_FILES = {
    "statements.csv": "Operator statements (CSV)",
    "statements.json": "Operator statements (JSON)",
    "exceptions.csv": "Open exceptions (CSV)",
    "controls.json": "Controls (JSON)",
    "settlement.json": "Every settled figure and the digest (JSON)",
    "report.html": "Settlement report (HTML)",
}
SETTLED_STATES = ("settled", "adjustments waiting")


class DayRow(Protocol):
    @property
    def day(self) -> date: ...
    @property
    def state(self) -> str: ...  # open | closing (<stage>) | settled | adjustments waiting
    @property
    def digest(self) -> str | None: ...


class FiguresRow(Protocol):
    @property
    def figures(self) -> dict[str, Any]: ...  # SettledDay.figures() as stored by the run


class ExceptionRow(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def first_seen(self) -> date: ...
    @property
    def detail(self) -> str: ...


class SettlementBackend(Protocol):
    """The part of `faregate.api.staff.Settlements` the page uses."""

    async def start(self, day: date, who: str) -> object: ...

    async def days(self) -> Sequence[DayRow]: ...

    async def figures(self, day: date) -> FiguresRow: ...

    async def exceptions(self, day: date) -> Sequence[ExceptionRow]: ...

    async def statement(self, day: date, name: str) -> tuple[bytes, str]: ...


def readable_detail(detail: str, currency: str) -> str:
    """An exception's detail as finance reads it: the stored JSON of a reconciliation line
    (amounts on each side, the day of the record, what sits in suspense) in one line; any
    other text as it is."""
    try:
        fields = json.loads(detail)
    except ValueError:
        return detail
    if not isinstance(fields, dict):
        return detail

    def money(key: str) -> str:
        value = fields.get(key)
        return "none" if not isinstance(value, int) else str(Money(value, currency))

    parts = []
    if "ledger_amount" in fields or "gateway_amount" in fields:
        parts.append(f"ledger {money('ledger_amount')}, gateway {money('gateway_amount')}")
    if isinstance(fields.get("record_day"), str):
        parts.append(f"recorded {fields['record_day']}")
    if isinstance(fields.get("suspense"), int) and fields["suspense"]:
        parts.append(f"{money('suspense')} in suspense")
    if isinstance(fields.get("account"), str):
        parts.append(f"account {fields['account']}")
    if isinstance(fields.get("route"), str):
        parts.append(f"route {fields['route']}")
    return "; ".join(parts) or detail


def _status(row: DayRow, now_after_cut_off: bool) -> DayStatus:
    if row.state in SETTLED_STATES:
        return DayStatus.SETTLED
    if row.state.startswith("closing"):
        return DayStatus.SETTLING
    return DayStatus.CLOSED if now_after_cut_off else DayStatus.OPEN


class SettlementsFinance:
    """A `FinanceSource` over the settlement service's interface (module docstring)."""

    def __init__(
        self,
        backend: SettlementBackend,
        *,
        clock: Clock = utc_now,
        refusals: tuple[type[Exception], ...] = (),
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._refusals: tuple[type[Exception], ...] = (TicketingError, *refusals)

    async def _figures(self, day: date) -> dict[str, Any]:
        return (await self._backend.figures(day)).figures

    def _day(self, row: DayRow, figures: dict[str, Any] | None) -> SettlementDay:
        status = _status(row, self._clock() >= cut_off(row.day))
        if figures is None:
            return SettlementDay(
                service_day=row.day,
                status=status,
                control=ControlStatus.NOT_RUN,
                taps=None,
                collected=None,
                exceptions=None,
                waiting=row.state == "adjustments waiting",
            )
        return SettlementDay(
            service_day=row.day,
            status=status,
            control=ControlStatus.BALANCED
            if figures["controls"]["ok"]
            else ControlStatus.OUT_OF_BALANCE,
            taps=int(figures["taps"]),
            collected=Money(int(figures["collected"]), figures["currency"]),
            exceptions=sum(int(n) for n in figures["exceptions"].values()),
            waiting=row.state == "adjustments waiting",
        )

    async def list_days(self, request: web.Request) -> list[SettlementDay]:
        rows = sorted(await self._backend.days(), key=lambda r: r.day, reverse=True)
        return [
            self._day(row, await self._figures(row.day) if row.state in SETTLED_STATES else None)
            for row in rows
        ]

    async def report(self, request: web.Request, day: date) -> DayReport | None:
        rows = [r for r in await self._backend.days() if r.day == day]
        if not rows:
            return None
        row = rows[0]
        if row.state not in SETTLED_STATES:
            return DayReport(
                day=self._day(row, None), by_operator=(), by_hour=(), exceptions=(), downloads=()
            )
        figures = await self._figures(day)
        currency = figures["currency"]
        hourly = {int(hour): int(amount) for hour, amount in figures["revenue_by_hour"].items()}
        return DayReport(
            day=self._day(row, figures),
            by_operator=tuple(
                OperatorRevenue(
                    operator=s["operator"],
                    gross=Money(int(s["gross"]), currency),
                    net=Money(int(s["net"]), currency),
                )
                for s in figures["statements"]
            ),
            by_hour=tuple(Money(hourly.get(hour, 0), currency) for hour in range(24)),
            exceptions=tuple(
                SettlementException(
                    kind=e.kind.replace("_", " "),
                    reference=e.reference,
                    amount=Money(e.amount, e.currency),
                    since=e.first_seen,
                    detail=readable_detail(e.detail, e.currency),
                )
                for e in await self._backend.exceptions(day)
            ),
            downloads=tuple(
                Download(
                    label=label,
                    href=str(
                        request.app.router["finance_file"].url_for(day=day.isoformat(), name=name)
                    ),
                )
                for name, label in REPORT_FILES.items()
            ),
        )

    async def file(self, request: web.Request, day: date, name: str) -> tuple[bytes, str] | None:
        if name not in REPORT_FILES:
            return None
        rows = [r for r in await self._backend.days() if r.day == day]
        if not rows or rows[0].state not in SETTLED_STATES:
            return None
        return await self._backend.statement(day, name)

    async def start_settlement(self, request: web.Request, day: date) -> None:
        user = request.get(STAFF_USER)
        who = "finance page" if user is None else user.username
        try:
            await self._backend.start(day, who)
        except self._refusals as exc:  # not closed yet, already running...
            raise SettlementRefused(str(exc)) from exc
