"""The parking operator's pages and the inspector's, over the parking use cases the operator
API calls (`parking.lots`, `.history`, `.permits`, `.cases`, `.remote_open`, `.inspections`):

- `/operator/lots/{lot_id}?day=`: the lot's chosen day as charts with their numbers (inline
  SVG), its live free spaces (as the barrier counts them), its barriers with a remote-open
  button (a reason is required), its tariff versions with upload (each error of the file shown
  by its field), preview, schedule and cancel, its configuration (edit) and its permits (sell
  one at the counter); Vietnamese first, its charts' labels too;
- `/operator/lots/new`: create a lot with its first tariff (Vietnamese first);
- `/operator/cases`: unable-to-collect cases by plate, lot, day and status, with the workflow
  (notify, write off with a reason, collected at the lot) and a CSV link; Vietnamese first;
- `/inspector`: a phone-sized page: the lot, a plate in, the answer out; Vietnamese first,
  English by the switch, like the other staff pages (faregate.web.pages.render_staff).

Forms post to the same paths with the session's form token; a refused change re-renders the
page with the error (4xx) and nothing changed; a done one redirects (post/redirect/get).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from babel.dates import format_date

from faregate import i18n
from faregate.errors import FormRefused
from faregate.i18n import N_
from faregate.web.lot_charts import day_charts
from faregate.web.pages import (
    SERVICE_ZONE,
    STAFF_USER,
    page_language,
    render_staff,
    words,
)
from faregate.web.refusals import error_line
from faregate.web.staff import FORM_EXPIRED, FORM_TOKEN, FORM_TOKEN_FIELD, form_token_ok
from parking.cases import (
    CaseQuery,
    cases_csv,
    collect_case,
    find_cases,
    notify_case,
    write_off_case,
)
from parking.errors import LotError, ParkingError, TariffError, TariffErrors
from parking.history import lot_day
from parking.inspections import check_plate, inspection_lots, recent_checks
from parking.lots import (
    LotChanges,
    add_lot,
    cancel_tariff,
    edit_lot,
    lot_tariffs,
    preview_tariff,
    read_tariff,
    schedule_tariff,
    upload_tariff,
)
from parking.occupancy import Occupancy
from parking.permit import parse_month
from parking.permits import lot_permits, sell_permit
from parking.records import CaseStatus, LotConfig, LotKind, coordinate
from parking.remote_open import lot_barriers, open_barrier
from parking.services import lot_statuses
from parking.tariff_files import resolve_tariff, shipped_tariff_names
from parking.unit_of_work import ParkingUnitOfWorkFactory
from ticketing.audit import Actor, ActorRole
from ticketing.errors import TicketingError
from ticketing.money import Money
from ticketing.outbox.protocol import Outbox

MAX_FIELD = 500
MAX_DOCUMENT = 64 * 1024
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
KINDS = [kind.value for kind in LotKind]
STATUSES = [status.value for status in CaseStatus]
DONE = {
    "created": N_("Lot created, its first tariff in force from now."),
    "edited": N_("Changes saved; the lot's barriers get them on their next sync."),
    "scheduled": N_("Tariff scheduled."),
    "cancelled": N_("Tariff version cancelled."),
    "opened": N_("Barrier opening asked: it opens on its next sync."),
    "permit": N_("Permit sold."),
}


@dataclass(frozen=True, slots=True)
class ParkingPages:
    """Where the pages find parking: the request's units of work, live occupancy and outbox."""

    uows: Callable[[web.Request], ParkingUnitOfWorkFactory]
    occupancy: Callable[[web.Request], Occupancy]
    outbox: Callable[[web.Request], Outbox]


PARKING_PAGES = web.AppKey("parking_pages", ParkingPages)


# A form the page cannot take as it is (faregate.errors: error classes live there).
Refused = FormRefused


def _who(request: web.Request) -> Actor:
    user = request.get(STAFF_USER)
    if user is None:  # pages mounted without staff sign-in (tests of the pages alone)
        return Actor("operator", ActorRole.OPERATOR)
    return Actor.of(user)


def _today(clock: Callable[[], datetime]) -> date:
    return clock().astimezone(SERVICE_ZONE).date()


def _day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise web.HTTPUnprocessableEntity(
            text=f"Error: {text[:40]!r} is not a day (YYYY-MM-DD)"
        ) from None
    if len(text) != 10 or not FIRST_DAY <= day <= LAST_DAY:
        raise web.HTTPUnprocessableEntity(
            text=f"Error: {text!r} is outside {FIRST_DAY}..{LAST_DAY}"
        )
    return day


async def _form(request: web.Request) -> dict[str, str]:
    """The posted fields (text, trimmed, bounded); a form without this session's token is
    refused (403)."""
    posted = await request.post()
    fields = {
        name: str(value)[: MAX_DOCUMENT if name == "document" else MAX_FIELD].strip()
        for name, value in posted.items()
        if isinstance(value, str)
    }
    if not form_token_ok(request, fields.get(FORM_TOKEN_FIELD, "")):
        raise web.HTTPForbidden(text=FORM_EXPIRED)
    return fields


def _fields(error: Exception) -> dict[str, str]:
    """Each field a use case's refusal names, with its reason, for the form to mark."""
    if isinstance(error, TariffErrors):
        return {e.field or e.file: e.reason for e in error.errors}
    if isinstance(error, (TariffError, LotError)):
        return {error.field or "tariff": error.reason}
    return {}


def _int(fields: Mapping[str, str], name: str, *, required: bool = False) -> int | None:
    text = fields.get(name, "").replace(",", "").replace(" ", "")
    if not text:
        if required:
            raise Refused(f"{name}: required", {name: "required"})
        return None
    if not text.isdigit() or len(text) > 15:
        raise Refused(f"{name}: {text[:20]!r} is not a whole number", {name: "a whole number"})
    return int(text)


def _degrees(fields: Mapping[str, str], name: str) -> Decimal | None:
    text = fields.get(name, "")
    if not text:
        return None
    try:
        return coordinate(text)
    except (InvalidOperation, ValueError):
        raise Refused(
            f"{name}: {text[:20]!r} is not degrees", {name: "a number of degrees"}
        ) from None


def _source(request: web.Request) -> ParkingPages:
    return request.app[PARKING_PAGES]


def _url(
    request: web.Request, name: str, query: Mapping[str, str] | None = None, **parts: str
) -> str:
    url = request.app.router[name].url_for(**parts)
    return str(url.with_query(query) if query else url)


# --- a lot's page ---------------------------------------------------------------------------


async def lot_page(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    fields: Mapping[str, str] | None = None,
    posted: Mapping[str, str] | None = None,
    form: str | None = None,
) -> web.Response:
    source = _source(request)
    uows = source.uows(request)
    lot_id = request.match_info["lot_id"]
    try:
        tariffs = await lot_tariffs(uows, lot_id)
    except ParkingError:
        raise web.HTTPNotFound(text=f"Error: no lot {lot_id[:80]!r}") from None
    today = _today(uows.clock)
    day = _day(request.query.get("day"), today)
    figures = await lot_day(uows, lot_id, day)
    live = next(
        (s for s in await lot_statuses(uows, source.occupancy(request)) if s.lot_id == lot_id),
        None,
    )
    preview = None
    wanted = request.query.get("preview", "")
    if wanted.isdigit() and len(wanted) < 9:
        try:
            preview = await preview_tariff(uows, lot_id, int(wanted))
        except ParkingError:
            preview = None
    month = today.replace(day=1)
    permits = await lot_permits(uows, lot_id, month)
    language = page_language(request)
    notice = None if error else DONE.get(request.query.get("done", ""))
    return render_staff(
        request,
        "parking_lot.html",
        status=status,
        lot=tariffs.lot,
        tariffs=tariffs,
        live=live,
        day=day,
        today=today,
        previous_day=(day - timedelta(days=1)).isoformat(),
        next_day=(day + timedelta(days=1)).isoformat() if day < today else None,
        figures=figures,
        charts=day_charts(figures, language),
        barriers=await lot_barriers(uows, lot_id),
        preview=preview,
        permits=permits,
        month=f"{month:%Y-%m}",
        month_name=format_date(month, "MMMM y", locale=language),
        money=lambda amount: Money(amount, tariffs.lot.currency),
        local=lambda at: "—" if at is None else i18n.hanoi_time(at, language),
        error=error,
        notice=notice and words(request)(notice),
        field_errors=dict(fields or {}),
        posted=dict(posted or {}),
        form=form,
        kinds=KINDS,
        form_token=request.get(FORM_TOKEN, ""),
        form_token_field=FORM_TOKEN_FIELD,
        lot_url=lambda **query: _url(request, "operator_lot", query or None, lot_id=lot_id),
        action=lambda name, **parts: _url(request, name, lot_id=lot_id, **parts),
        overview_url=_url(request, "operator"),
        cases_url=_url(request, "operator_cases", {"lot_id": lot_id}),
    )


async def show_lot(request: web.Request) -> web.Response:
    return await lot_page(request)


async def _lot_change(
    request: web.Request,
    form: str,
    change: Callable[[dict[str, str]], Any],
    query: Mapping[str, str],
) -> web.Response:
    """Run a form's change; on a refusal, the page again with the error (nothing changed)."""
    fields = await _form(request)
    try:
        await change(fields)
    except Refused as refused:
        return await lot_page(
            request, status=422, error=error_line(request, refused), fields=refused.fields,
            posted=fields, form=form,
        )  # fmt: skip
    except (ParkingError, TicketingError) as error:
        fields_named = _fields(error)
        return await lot_page(
            request, status=422 if fields_named else 409, error=error_line(request, error),
            fields=fields_named, posted=fields, form=form,
        )  # fmt: skip
    lot_id = request.match_info["lot_id"]
    raise web.HTTPSeeOther(_url(request, "operator_lot", query or None, lot_id=lot_id))


def _changes(fields: Mapping[str, str]) -> LotChanges:
    kind = fields.get("kind") or None
    return LotChanges(
        name=fields.get("name") or None,
        capacity=_int(fields, "capacity"),
        reserved=_int(fields, "reserved"),
        kind=kind,
        permit_price=_int(fields, "permit_price"),
        hold_amount=_int(fields, "hold"),
        passback=fields.get("passback") or None,
        address=fields.get("address") or None,
        latitude=_degrees(fields, "latitude"),
        longitude=_degrees(fields, "longitude"),
    )


async def post_edit(request: web.Request) -> web.Response:
    source = _source(request)

    async def change(fields: dict[str, str]) -> None:
        await edit_lot(
            source.uows(request), request.match_info["lot_id"], _changes(fields),
            by=_who(request), reason=fields.get("reason") or None,
            occupancy=source.occupancy(request),
        )  # fmt: skip

    return await _lot_change(request, "edit", change, {"done": "edited"})


async def post_upload(request: web.Request) -> web.Response:
    """Upload a tariff as a draft, then show the lot page previewing it."""
    uows = _source(request).uows(request)
    fields = await _form(request)
    document = fields.get("document", "")
    try:
        if not document:
            # The message in the rules' English: the `Error:` line translates it (error_line).
            raise Refused(
                N_("paste the tariff file's text"), {"document": words(request)(N_("required"))}
            )
        version = await upload_tariff(
            uows, request.match_info["lot_id"], document, by=_who(request), source="upload"
        )
    except Refused as refused:
        return await lot_page(
            request, status=422, error=error_line(request, refused), fields=refused.fields,
            posted=fields, form="upload",
        )  # fmt: skip
    except (ParkingError, TicketingError) as error:
        return await lot_page(
            request, status=422, error=error_line(request, error), fields=_fields(error),
            posted=fields, form="upload",
        )  # fmt: skip
    raise web.HTTPSeeOther(
        _url(
            request,
            "operator_lot",
            {"preview": str(version.version)},
            lot_id=request.match_info["lot_id"],
        )
    )


def _version(request: web.Request) -> int:
    text = request.match_info["version"]
    if not text.isdigit() or len(text) > 9:
        raise web.HTTPNotFound(text=f"Error: no tariff version {text[:20]!r}")
    return int(text)


def _local_time(text: str) -> datetime | None:
    """A `datetime-local` field's value, as Hanoi time (empty: None, now)."""
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(
            f"{text[:30]!r} is not a date and time", {"effective_from": "a time"}
        ) from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=SERVICE_ZONE)


async def post_schedule(request: web.Request) -> web.Response:
    uows = _source(request).uows(request)

    async def change(fields: dict[str, str]) -> None:
        await schedule_tariff(
            uows, request.match_info["lot_id"], _version(request),
            _local_time(fields.get("effective_from", "")), by=_who(request),
        )  # fmt: skip

    return await _lot_change(request, "schedule", change, {"done": "scheduled"})


async def post_cancel(request: web.Request) -> web.Response:
    uows = _source(request).uows(request)

    async def change(fields: dict[str, str]) -> None:
        await cancel_tariff(
            uows, request.match_info["lot_id"], _version(request), by=_who(request),
            reason=fields.get("reason", ""),
        )  # fmt: skip

    return await _lot_change(request, "cancel", change, {"done": "cancelled"})


async def post_open(request: web.Request) -> web.Response:
    uows = _source(request).uows(request)

    async def change(fields: dict[str, str]) -> None:
        reason = fields.get("reason", "")
        if not reason:
            raise Refused(
                N_("say why the barrier opens"), {"reason": words(request)(N_("required"))}
            )
        await open_barrier(
            uows, request.match_info["lot_id"], request.match_info["device_id"],
            reason=reason, by=_who(request),
        )  # fmt: skip

    return await _lot_change(request, "open", change, {"done": "opened"})


async def post_permit(request: web.Request) -> web.Response:
    uows = _source(request).uows(request)

    async def change(fields: dict[str, str]) -> None:
        plate = fields.get("plate", "")
        if not plate:
            raise Refused(
                N_("give the plate the permit is for"), {"plate": words(request)(N_("required"))}
            )
        await sell_permit(
            uows, request.match_info["lot_id"], parse_month(fields.get("month", "")),
            by=_who(request), plate=plate, at_counter=True,
        )  # fmt: skip

    return await _lot_change(request, "permit", change, {"done": "permit"})


# --- a new lot ------------------------------------------------------------------------------


async def _new_lot_page(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    fields: Mapping[str, str] | None = None,
    posted: Mapping[str, str] | None = None,
) -> web.Response:
    return render_staff(
        request,
        "parking_new_lot.html",
        status=status,
        error=error,
        field_errors=dict(fields or {}),
        posted=dict(posted or {}),
        kinds=KINDS,
        tariffs=shipped_tariff_names(),
        form_token=request.get(FORM_TOKEN, ""),
        form_token_field=FORM_TOKEN_FIELD,
        overview_url=_url(request, "operator"),
    )


async def new_lot(request: web.Request) -> web.Response:
    return await _new_lot_page(request)


async def post_new_lot(request: web.Request) -> web.Response:
    source = _source(request)
    fields = await _form(request)
    try:
        document, name = fields.get("document", ""), fields.get("tariff", "")
        if not document:
            if name not in shipped_tariff_names():
                say = words(request)
                raise Refused(
                    N_("choose a shipped tariff or paste a tariff file"),
                    {"tariff": say(N_("choose one")), "document": say(N_("or paste a file"))},
                )
            document = resolve_tariff(name).read_text(encoding="utf-8")
        currency = read_tariff(document, name or "upload").currency
        lot = LotConfig(
            lot_id=fields.get("lot_id", ""),
            name=fields.get("name", ""),
            operator=fields.get("operator", ""),
            capacity=_int(fields, "capacity", required=True) or 0,
            reserved=_int(fields, "reserved") or 0,
            currency=currency,
            passback="soft" if fields.get("passback") == "soft" else "hard",
            hold_amount=_int(fields, "hold") or 0,
            kind=LotKind(fields["kind"]) if fields.get("kind") in KINDS else LotKind.CAR_PARK,
            latitude=_degrees(fields, "latitude"),
            longitude=_degrees(fields, "longitude"),
            address=fields.get("address") or None,
            permit_price=_int(fields, "permit_price") or 0,
        )
        await add_lot(
            source.uows(request), lot, document, by=_who(request), source=name or "upload",
            occupancy=source.occupancy(request),
        )  # fmt: skip
    except Refused as refused:
        return await _new_lot_page(
            request, status=422, error=error_line(request, refused), fields=refused.fields,
            posted=fields,
        )  # fmt: skip
    except (ParkingError, TicketingError) as error:
        fields_named = _fields(error)
        return await _new_lot_page(
            request, status=422 if fields_named else 409, error=error_line(request, error),
            fields=fields_named, posted=fields,
        )  # fmt: skip
    raise web.HTTPSeeOther(_url(request, "operator_lot", {"done": "created"}, lot_id=lot.lot_id))


# --- cases ----------------------------------------------------------------------------------


def _case_query(request: web.Request) -> CaseQuery:
    query = request.query
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise web.HTTPUnprocessableEntity(text=f"Error: no case status {status[:20]!r}")
    return CaseQuery(
        plate=(query.get("plate") or "")[:40] or None,
        lot_id=(query.get("lot_id") or "")[:100] or None,
        day=_day(query.get("day"), date.min) if query.get("day") else None,
        status=None if status is None else CaseStatus(status),
    )


_CASE_DONE = {
    "written_off": N_("Case written off."),
    "notified": N_("Rider told."),
    "collected": N_("Case marked collected."),
}


async def cases_page(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    source = _source(request)
    uows = source.uows(request)
    query = _case_query(request)
    try:
        views = await find_cases(uows, query)
    except ParkingError as refused:
        views, status = [], 422
        error = error_line(request, refused)
    lots = await lot_statuses(uows, source.occupancy(request))
    notice = _CASE_DONE.get(request.query.get("done", ""))
    totals: dict[str, int] = {}
    for view in views:
        if not view.case.status.resolved:
            totals[view.case.currency] = totals.get(view.case.currency, 0) + view.case.amount
    return render_staff(
        request,
        "parking_cases.html",
        status=status,
        views=views,
        query=query,
        lots=lots,
        statuses=STATUSES,
        owed=[i18n.money_of(Money(amount, currency)) for currency, amount in totals.items()],
        money=Money,
        error=error,
        notice=notice and words(request)(notice),
        csv_url=_url(request, "operator_cases_csv", dict(request.query)),
        action=lambda name, session_id: _url(request, name, session_id=session_id),
        back=request.path_qs,
        form_token=request.get(FORM_TOKEN, ""),
        form_token_field=FORM_TOKEN_FIELD,
        overview_url=_url(request, "operator"),
    )  # fmt: skip


async def show_cases(request: web.Request) -> web.Response:
    return await cases_page(request)


async def cases_csv_file(request: web.Request) -> web.Response:
    try:
        views = await find_cases(_source(request).uows(request), _case_query(request))
    except ParkingError as refused:
        raise web.HTTPUnprocessableEntity(text=f"Error: {refused}") from None
    return web.Response(
        text=cases_csv(views),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="parking-cases.csv"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def _case_change(
    request: web.Request, done: str, change: Callable[[dict[str, str]], Any]
) -> web.Response:
    fields = await _form(request)
    back = fields.get("back", "")
    if not back.startswith("/operator/cases") or "//" in back:
        back = _url(request, "operator_cases")
    try:
        await change(fields)
    except (ParkingError, TicketingError) as error:
        return await cases_page(request, status=409, error=error_line(request, error))
    separator = "&" if "?" in back else "?"
    raise web.HTTPSeeOther(f"{back}{separator}done={done}")


async def post_notify(request: web.Request) -> web.Response:
    source = _source(request)

    async def change(fields: dict[str, str]) -> None:
        await notify_case(
            source.uows(request), source.outbox(request), request.match_info["session_id"],
            by=_who(request),
        )  # fmt: skip

    return await _case_change(request, "notified", change)


async def post_write_off(request: web.Request) -> web.Response:
    uows = _source(request).uows(request)

    async def change(fields: dict[str, str]) -> None:
        await write_off_case(
            uows, request.match_info["session_id"], reason=fields.get("reason", ""),
            by=_who(request),
        )  # fmt: skip

    return await _case_change(request, "written_off", change)


async def post_collect(request: web.Request) -> web.Response:
    uows = _source(request).uows(request)

    async def change(fields: dict[str, str]) -> None:
        await collect_case(
            uows, request.match_info["session_id"], note=fields.get("note", ""), by=_who(request)
        )

    return await _case_change(request, "collected", change)


# --- the inspector's page -------------------------------------------------------------------


async def inspector_page(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    check: Any = None,
    posted: Mapping[str, str] | None = None,
) -> web.Response:
    uows = _source(request).uows(request)
    user = request.get(STAFF_USER)
    lots = await inspection_lots(uows)
    recent = await recent_checks(uows, inspector=None if user is None else user.username)
    names = {lot.lot_id: lot.name for lot in lots}
    language = page_language(request)
    return render_staff(
        request,
        "inspector.html",
        status=status,
        lots=lots,
        names=names,
        recent=recent[:8],
        check=check,
        error=error,
        posted=dict(posted or {}),
        local=lambda at: "—" if at is None else f"{at.astimezone(SERVICE_ZONE):%H:%M}",
        local_day=lambda at: i18n.day_name(at.astimezone(SERVICE_ZONE).date(), language),
        form_token=request.get(FORM_TOKEN, ""),
        form_token_field=FORM_TOKEN_FIELD,
    )


async def show_inspector(request: web.Request) -> web.Response:
    return await inspector_page(request)


async def post_check(request: web.Request) -> web.Response:
    fields = await _form(request)
    uows = _source(request).uows(request)
    user = request.get(STAFF_USER)
    try:
        check = await check_plate(
            uows, fields.get("lot_id", ""), fields.get("plate", ""),
            inspector="inspector" if user is None else user.username,
        )  # fmt: skip
    except ParkingError as error:
        return await inspector_page(
            request, status=422, error=error_line(request, error), posted=fields
        )
    return await inspector_page(request, check=check, posted={"lot_id": check.lot.lot_id})
