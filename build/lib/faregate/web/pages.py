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
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from qr.credential import CredentialFlags
from qr.issue import PhoneCredential

STATIC_DIR = Path(__file__).parent / "static"
SERVICE_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

# Only our own origin; no inline script (the credential is JSON in a non-executed script tag).
# `data:` images: none today, kept out on purpose.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
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
CREDENTIAL_SOURCE = web.AppKey[CredentialSource]("passenger_credential_source")


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("faregate.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = request.app[TEMPLATES].get_template(template).render(**context)
    return web.Response(
        text=html, status=status, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
    )


def service_time(at: datetime) -> str:
    """An instant as the passenger reads it: Hanoi time, to the minute."""
    return at.astimezone(SERVICE_ZONE).strftime("%d %b %Y, %H:%M")


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
    def of(cls, phone: PhoneCredential) -> PassView:
        c = phone.credential
        return cls(
            document=phone.to_json(),
            credential_id=c.credential_id,
            product=c.product,
            category=c.category.name.lower(),
            valid_from=service_time(c.valid_from),
            valid_until=service_time(c.valid_until),
            postpaid=CredentialFlags.POSTPAID in c.flags,
        )


async def passenger_page(request: web.Request) -> web.Response:
    phone = await request.app[CREDENTIAL_SOURCE](request)
    return render(
        request, "passenger.html", pass_view=None if phone is None else PassView.of(phone)
    )


def add_web_routes(app: web.Application, credential_source: CredentialSource | None = None) -> None:
    """Mount the pages and their static files on `app` (before it starts).

    `credential_source` finds the pass for a request; without one the passenger page says there
    is no pass to show.
    """
    static = app.router.add_static("/static/", STATIC_DIR, name="static")
    templates = template_environment()
    templates.globals["static"] = lambda path: str(static.url_for(filename=path))
    app[TEMPLATES] = templates
    app[CREDENTIAL_SOURCE] = credential_source or no_credential
    app.router.add_get("/", passenger_page, name="passenger")
