"""Server-rendered pages: the Jinja2 environment, the page handlers and the headers they carry.

The pages hold no business rules. The passenger page gets its credential from a
`CredentialSource` the app is given (the API round plugs in the signed-in account's pass; tests
plug in a fixed one), embeds it in the page once, and the browser computes every code from it
(`static/js/token.js`), so the code keeps rotating with no network.

Every asset is served from `/static/` by this package; the Content-Security-Policy makes the
browser refuse anything else, so a page can never reach out to another host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from faregate import i18n
from qr.credential import CredentialFlags
from qr.issue import PhoneCredential
from qr.timeutil import Clock
from ticketing.money import Money
from ticketing.services.passengers import MOVES_PER_DAY
from ticketing.users import ApiUser

STATIC_DIR = Path(__file__).parent / "static"
SERVICE_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

# Only our own origin; no inline script (the credential is JSON in a non-executed script tag).
# `data:` images: none today, kept out on purpose.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # The passenger page carries the pass's seed: no cache may keep it.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

CredentialSource = Callable[[web.Request], Awaitable[PhoneCredential | None]]
"""The pass to show for a request (the signed-in passenger's), or None when there is none."""


async def no_credential(request: web.Request) -> PhoneCredential | None:
    """The source until sign-in exists: nobody has a pass to show."""
    return None


TEMPLATES = web.AppKey("web_templates", jinja2.Environment)
# Who is signed in on a staff page (set by `faregate.web.staff.require_role`): every page shows
# them in its header, with a sign-out button.
STAFF_USER = web.RequestKey("staff_user", ApiUser)
CLOCK = web.AppKey[Clock]("web_clock")
CREDENTIAL_SOURCE = web.AppKey[CredentialSource]("passenger_credential_source")
# True: the page signs the passenger in through the passenger API and fetches the credential
# itself (no credential source was given); False: the source's pass is embedded in the page.
ACCOUNT_MODE = web.AppKey("passenger_account_mode", bool)


def template_environment(static_url: Callable[[str], str]) -> jinja2.Environment:
    templates = jinja2.Environment(
        loader=jinja2.PackageLoader("faregate.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # A page rendered with a `language` gets that language's gettext in its context, which
    # `{% trans %}` and `_()` look up first (English, the msgids, for pages not translated).
    templates.install_null_translations()  # type: ignore[attr-defined]
    templates.globals.update(static=static_url, format_money=i18n.money)
    # Every amount a template prints is written as Vietnamese readers expect (`48.000 ₫`),
    # whichever page and language: `str(Money)` is the logs' and files' form.
    templates.finalize = _money_as_read
    return templates


def _money_as_read(value: Any) -> Any:
    return i18n.money_of(value) if isinstance(value, Money) else value


def render(
    request: web.Request,
    template: str,
    status: int = 200,
    *,
    language: str = i18n.ENGLISH,
    **context: Any,
) -> web.Response:
    """`template` with `context`, and `signed_in`: the staff user of the request, if any; its
    words, days and times in `language` (faregate.i18n): `page_language(request)` for a
    translated page, English for one not translated yet (the parking pages). A page asked for
    with the language switch (`?lang=`) remembers it in the cookie."""
    context.setdefault("signed_in", request.get(STAFF_USER))
    words = i18n.translations(language)
    context.update(
        lang=language,
        gettext=words.gettext,
        ngettext=words.ngettext,
        _=words.gettext,
        languages=[(code, i18n.LANGUAGE_NAMES[code]) for code in i18n.LANGUAGES],
        service_time=lambda at, seconds=False: i18n.hanoi_time(at, language, seconds=seconds),
        service_clock=lambda at: i18n.hanoi_clock(at, language),
        day_name=lambda day: i18n.day_name(day, language),
        long_day=lambda day: i18n.long_day_name(day, language),
        number=lambda count: i18n.number(count, language),
        read_money=i18n.money_of,
    )
    # The switch's links keep the page and its query (a staff page's day, filters).
    context.setdefault("switch_url", lambda code: str(request.rel_url.update_query(lang=code)))
    html = request.app[TEMPLATES].get_template(template).render(**context)
    response = web.Response(
        text=html,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**PAGE_HEADERS, "Content-Language": language},
    )
    if i18n.language_of(request.query.get("lang")) == language:
        # The switch was used: remember it on this browser (read by the server, so the
        # passenger page the service worker keeps is in it too).
        response.set_cookie(
            i18n.LANG_COOKIE, language, max_age=i18n.LANG_COOKIE_MAX_AGE, path="/",
            samesite="Lax", secure=request.secure,
        )  # fmt: skip
    return response


@dataclass(frozen=True, slots=True, kw_only=True)
class PassView:
    """What the passenger page shows of a pass besides the live code."""

    document: dict[str, Any]  # the phone credential document the browser computes codes from
    credential_id: int
    product: str
    category: str
    valid_from: str
    valid_until: str
    postpaid: bool

    @classmethod
    def of(cls, phone: PhoneCredential, language: str = i18n.ENGLISH) -> PassView:
        c = phone.credential
        document = phone.to_json()
        # A string: ids reach 2**63, beyond what a JavaScript Number holds exactly.
        document["credential_id"] = str(c.credential_id)
        return cls(
            document=document,
            credential_id=c.credential_id,
            product=c.product,
            category=c.category.name.lower(),
            valid_from=i18n.hanoi_time(c.valid_from, language),
            valid_until=i18n.hanoi_time(c.valid_until, language),
            postpaid=CredentialFlags.POSTPAID in c.flags,
        )


# The staff pages' scripts: their words are all a staff page carries for its JavaScript.
STAFF_SCRIPTS = ("operator.js", "finance.js")


def render_staff(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    """A staff page: in the reader's language (`page_language`: Vietnamese unless the switch,
    the remembered choice or the browser asks for English), with the switch in its header."""
    language = page_language(request)
    return render(
        request, template, status, language=language, staff_page=True,
        script_messages=dict(i18n.script_messages(language, STAFF_SCRIPTS)), **context,
    )  # fmt: skip


def words(request: web.Request) -> Callable[[str], str]:
    """The gettext of the request's page language, for texts a handler writes (an `Error:`
    line); mark each with `faregate.i18n.N_` so `scripts/messages` finds it."""
    return i18n.translations(page_language(request)).gettext


def page_language(request: web.Request) -> str:
    """The passenger page's language: its switch (`?lang=`), the one remembered, the
    browser's, or Vietnamese (faregate.i18n.choose_language)."""
    return i18n.choose_language(
        request.query.get("lang"),
        request.cookies.get(i18n.LANG_COOKIE),
        request.headers.get("Accept-Language"),
    )


def _language_context(language: str) -> dict[str, Any]:
    return {
        # The page's JavaScript takes its words from this (static/js/i18n.js).
        "script_messages": dict(i18n.script_messages(language)),
        # The app's one page: a switch never carries a VNPay return's query along.
        "switch_url": lambda code: f"/?lang={code}",
    }


async def passenger_page(request: web.Request) -> web.Response:
    language = page_language(request)
    # The page compares the server's time with the phone's clock once: codes from a clock off
    # by more than the gates' window are refused, and the passenger should know why.
    server_time_ms = int(request.app[CLOCK]().timestamp() * 1000)
    if request.app[ACCOUNT_MODE]:
        # The signed-in app: a shell the service worker keeps (no credential, no time in it:
        # the page takes the server's time from the passenger API at each sync).
        response = render(
            request, "passenger.html", language=language, account_mode=True,
            server_time_ms=None, moves_per_day=MOVES_PER_DAY, **_language_context(language),
        )  # fmt: skip
    else:
        phone = await request.app[CREDENTIAL_SOURCE](request)
        response = render(
            request,
            "passenger.html",
            language=language,
            account_mode=False,
            pass_view=None if phone is None else PassView.of(phone, language),
            server_time_ms=server_time_ms,
            **_language_context(language),
        )
    return response
