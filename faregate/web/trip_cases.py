"""The finance page of trip cases (`/finance/trip-cases`): the problems riders reported on
their trips, open first, each with the trip and its fare, and a form to refund it (all of the
fare unless an amount is given) or decline it, with the reason the rider reads. The same use
cases as `/api/v1/finance/trip-cases` (`ticketing.services.trip_cases`); a refusal is one
`Error:` line above the list (409), a form without this session's token 403, and after a
decision the browser is sent back with a 303."""

from __future__ import annotations

from aiohttp import web

from faregate.i18n import N_
from faregate.web.audit import AUDIT_SOURCE
from faregate.web.pages import CLOCK, STAFF_USER, render_staff, words
from faregate.web.refusals import error_line
from faregate.web.staff import FORM_EXPIRED, FORM_TOKEN, FORM_TOKEN_FIELD, form_token_ok
from ticketing.audit import Actor, ActorRole
from ticketing.errors import TicketingError
from ticketing.riders import TripCaseStatus
from ticketing.services.trip_cases import MAX_NOTE, cases, resolve_case

PATH = "/finance/trip-cases"
# A case's kind and status as the page shows them, translated there.
CASE_WORDS = (
    N_("missed tap out"), N_("double charge"), N_("other"),
    N_("open"), N_("refunded"), N_("declined"),
)  # fmt: skip


def _who(request: web.Request) -> Actor:
    user = request.get(STAFF_USER)
    return Actor("finance", ActorRole.FINANCE) if user is None else Actor.of(user)


async def trip_cases_page(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    uows = request.app[AUDIT_SOURCE](request)
    listed = await cases(uows)
    listed.sort(key=lambda c: c.status is not TripCaseStatus.OPEN)  # open first, stable
    return render_staff(
        request,
        "finance_trip_cases.html",
        status=status,
        error=error,
        done=request.query.get("done", "")[:20],
        cases=listed,
        max_note=MAX_NOTE,
        form_token=request.get(FORM_TOKEN, ""),
        form_token_field=FORM_TOKEN_FIELD,
        finance_url=str(request.app.router["finance"].url_for()),
    )


async def post_resolve(request: web.Request) -> web.Response:
    tr = words(request)
    posted = await request.post()
    fields = {k: str(v)[:MAX_NOTE].strip() for k, v in posted.items() if isinstance(v, str)}
    if not form_token_ok(request, fields.get(FORM_TOKEN_FIELD, "")):
        raise web.HTTPForbidden(text=tr(FORM_EXPIRED))
    decision, amount_text = fields.get("decision", ""), fields.get("amount", "")
    if decision not in ("refund", "decline") or not fields.get("reason"):
        return await trip_cases_page(
            request, status=422, error=tr(N_("Error: choose refund or decline and give a reason."))
        )
    if amount_text and not (amount_text.isascii() and amount_text.isdigit()):
        return await trip_cases_page(
            request,
            status=422,
            error=tr(N_("Error: {amount} is not an amount in dong.")).format(
                amount=repr(amount_text[:20])
            ),
        )
    try:
        await resolve_case(
            request.app[AUDIT_SOURCE](request), request.match_info["case_id"],
            refund=decision == "refund", amount=int(amount_text) if amount_text else None,
            reason=fields["reason"], by=_who(request),
            at=request.app[CLOCK](),
        )  # fmt: skip
    except TicketingError as refused:
        return await trip_cases_page(request, status=409, error=error_line(request, refused))
    raise web.HTTPSeeOther(f"{PATH}?done={'refunded' if decision == 'refund' else 'declined'}")
