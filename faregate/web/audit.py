"""The audit log page (`/finance/audit`, finance staff): every staff action, newest first, with
filters (who, what, on which record, between which service days) and pages.

The filters are a GET form, so a filtered view is a link finance can share. Days are Hanoi
calendar days: "from 1 Dec to 2 Dec" is 1 Dec 00:00 to 3 Dec 00:00, Hanoi time. A filter that
cannot be applied is one `Error:` line above the form (400), never a page without the form.
The lines come from `ticketing.services.audit.read_audit`, the same reads as
`GET /api/v1/finance/audit`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from faregate.web.pages import SERVICE_ZONE, render_staff
from faregate.web.refusals import error_line
from ticketing.audit import (
    DEFAULT_PAGE,
    AuditAction,
    AuditEntry,
    AuditPage,
    AuditQuery,
    TargetKind,
)
from ticketing.errors import InvalidAuditQuery
from ticketing.services.audit import read_audit
from ticketing.unit_of_work import UnitOfWorkFactory

AuditSource = Callable[[web.Request], UnitOfWorkFactory]
"""The units of work the page reads the log through (the app's)."""

AUDIT_SOURCE = web.AppKey[AuditSource]("audit_source")
FIELDS = ("actor", "action", "target_kind", "target_id", "from", "to", "cursor")
MAX_FIELD = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRow:
    """One line as the page shows it."""

    entry: AuditEntry
    before: str | None  # compact JSON
    after: str | None


def _json(value: Mapping[str, object] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        entry=entry,
        before=_json(entry.before),
        after=_json(entry.after),
    )


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidAuditQuery(f"{what} {text[:40]!r} is not a day (YYYY-MM-DD)") from None


def _start_of(day: date, zone: ZoneInfo = SERVICE_ZONE) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def query_of(form: Mapping[str, str]) -> AuditQuery:
    """The log query a filter form asks for; InvalidAuditQuery says what is wrong with it."""
    action, kind = form.get("action", ""), form.get("target_kind", "")
    try:
        wanted_action = AuditAction(action) if action else None
        wanted_kind = TargetKind(kind) if kind else None
    except ValueError:
        raise InvalidAuditQuery(f"no such action or target kind: {action or kind!r}") from None
    first, last = form.get("from", ""), form.get("to", "")
    return AuditQuery(
        actor=form.get("actor") or None,
        action=wanted_action,
        target_kind=wanted_kind,
        target_id=form.get("target_id") or None,
        since=_start_of(_day(first, "from")) if first else None,
        until=_start_of(_day(last, "to") + timedelta(days=1)) if last else None,
        limit=DEFAULT_PAGE,
        cursor=form.get("cursor") or None,
    )


async def audit_page(request: web.Request) -> web.Response:
    form = {
        name: request.query.get(name, "").strip()[:MAX_FIELD]
        for name in FIELDS
        if request.query.get(name, "").strip()
    }
    error, page = None, AuditPage((), None)
    try:
        page = await read_audit(request.app[AUDIT_SOURCE](request), query_of(form))
    except InvalidAuditQuery as refused:
        error = error_line(request, refused)
    filters = {name: value for name, value in form.items() if name != "cursor"}
    base = request.app.router["finance_audit"].url_for()
    older = None if page.next is None else {**filters, "cursor": page.next}
    return render_staff(
        request,
        "audit.html",
        status=400 if error else 200,
        error=error,
        form=form,
        rows=[_row(entry) for entry in page.entries],
        actions=list(AuditAction),
        target_kinds=list(TargetKind),
        next_url=None if older is None else str(base.with_query(older)),
        first_url=str(base.with_query(filters)) if "cursor" in form else None,
        finance_url=str(request.app.router["finance"].url_for()),
    )
