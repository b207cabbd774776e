"""Who may open the staff pages: `/operator` needs an operator, `/finance` a finance user.

A browser navigating to a page sends no bearer header, so staff sign in on the page itself
(`POST /staff/sign-in`, a form): the server signs them in through the users service
(`ticketing.services.users`, the same bearer tokens as the API) and keeps the token in a
cookie that scripts cannot read (`HttpOnly`) and other sites cannot send (`SameSite=Strict`,
which also protects the settle form's POST from cross-site requests). A request may carry an
`Authorization: Bearer` header instead. No token, or a revoked or expired one: the sign-in
form (401). A live token of another role (a passenger's, say): 403, and nothing of the page.

The passenger page does not use the cookie: it keeps its token in the tab's sessionStorage and
talks to the passenger API, so a passenger's session never reaches a staff page.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from faregate.errors import SignInDelayed
from faregate.i18n import N_
from faregate.web.clients import NO_PROXIES, TrustedProxies, client_address, is_https
from faregate.web.pages import STAFF_USER, render_staff, words
from faregate.web.sign_in_throttle import SignInThrottle, throttled_sign_in
from ticketing.errors import BadCredentials
from ticketing.services.users import (
    DEFAULT_COST,
    TOKEN_TTL,
    ScryptCost,
    revoke_token,
    user_for_token,
)
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import ApiUser, UserRole

SESSION_COOKIE = "faregate_staff"
MAX_FIELD = 1024
MAX_SIGN_IN_FORM = 16 * 1024
FORM_TOKEN_FIELD = "form_token"
# A post without this session's form token: the one line the pages answer it with.
FORM_EXPIRED = N_("Error: the form has expired; reload the page and try again.")


@dataclass(frozen=True, slots=True)
class StaffUsers:
    """Where page sign-in finds users: the units of work of the request's app; `throttle`:
    the failed sign-ins' delays (faregate.web.sign_in_throttle; None: none, the pages alone
    in tests); `proxies`: the reverse proxies whose forwarded client and scheme are believed
    (the cookie is `Secure` when the client's connection is HTTPS); `password_cost`: the
    server's scrypt cost, at which an unknown user's sign-in is checked."""

    uows: Callable[[web.Request], UnitOfWorkFactory]
    throttle: Callable[[web.Request], SignInThrottle | None] = lambda _: None
    proxies: TrustedProxies = NO_PROXIES
    password_cost: ScryptCost = DEFAULT_COST


STAFF_USERS = web.AppKey("staff_users", StaffUsers)
# Set by `require_role` on the requests it lets through: who is signed in (`STAFF_USER`, shown
# in every page's header) and the session's form token (see `form_token`).
FORM_TOKEN = web.RequestKey("form_token", str)


def form_token(session_token: str) -> str:
    """The per-session token the staff pages' forms carry: derived from the session's bearer
    token (secret, HttpOnly), so another site can neither read nor forge it. With the
    SameSite=Strict cookie it makes a cross-site POST fail twice over."""
    return hashlib.sha256(b"faregate-form-token:" + session_token.encode()).hexdigest()


def form_token_ok(request: web.Request, sent: str) -> bool:
    """Whether a posted form's token is this session's (always true on unguarded pages)."""
    expected = request.get(FORM_TOKEN)
    return expected is None or hmac.compare_digest(expected.encode(), sent.encode())


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE) or None


# What a browser drops from a URL before reading it (WHATWG URL: ASCII tab and newline),
# so "/\t/evil.example" would be followed as "//evil.example": removed before the check.
_URL_IGNORED = str.maketrans("", "", "\t\n\r")


def _safe_next(path: str | None) -> str:
    """Only a path on this site (no scheme, no `//host`, no backslash, no control character,
    checked after removing what a browser ignores), so sign-in is no open redirect."""
    path = (path or "").translate(_URL_IGNORED)
    if (
        path.startswith("/")
        and not path.startswith("//")
        and "\\" not in path
        and path.isprintable()
        and " " not in path
    ):
        return path
    return "/"


def _sign_in_page(
    request: web.Request, role: UserRole, *, status: int, error: str | None = None
) -> web.Response:
    return render_staff(
        request,
        "staff_sign_in.html",
        status=status,
        role=role.value,
        next_path=_safe_next(request.path_qs if request.method == "GET" else request.path),
        error=error,
    )


def require_role(role: UserRole, handler: Handler) -> Handler:
    """`handler` for users of `role` only (see the module docstring)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        token = _token(request)
        users = request.app[STAFF_USERS]
        user = None if token is None else await user_for_token(users.uows(request), token)
        if user is None:
            return _sign_in_page(request, role, status=401)
        if user.role is not role:
            return _forbidden(request, role, user)
        assert token is not None  # a user was found for it
        request[STAFF_USER] = user
        request[FORM_TOKEN] = form_token(token)
        return await handler(request)

    return guarded


def _forbidden(request: web.Request, role: UserRole, user: ApiUser) -> web.Response:
    tr = words(request)
    return render_staff(
        request,
        "staff_sign_in.html",
        status=403,
        role=role.value,
        next_path="/",
        error=tr(
            N_("Error: this page is for {role} staff; {user} is signed in as {other}.")
        ).format(role=tr(role.value), user=user.username, other=tr(user.role.value)),
    )


async def staff_sign_in(request: web.Request) -> web.Response:
    # Anyone may post here: a form bigger than three fields can be is refused by its length,
    # before it is read (a browser always sends one; aiohttp would read up to 8 MiB).
    length = request.content_length
    if length is None or length > MAX_SIGN_IN_FORM:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_SIGN_IN_FORM, actual_size=length or 0, headers={"Connection": "close"}
        )
    form = await request.post()
    username, password, wanted = (
        str(form.get(name, ""))[:MAX_FIELD] for name in ("username", "password", "next")
    )
    users = request.app[STAFF_USERS]
    client = client_address(request, users.proxies)
    try:
        session = await throttled_sign_in(
            users.throttle(request), users.uows(request), username, password, client,
            cost=users.password_cost,
        )  # fmt: skip
    except (BadCredentials, SignInDelayed) as refused:
        delayed = isinstance(refused, SignInDelayed)
        tr = words(request)
        page = render_staff(
            request,
            "staff_sign_in.html",
            status=429 if delayed else 401,
            role="staff",
            next_path=_safe_next(wanted),
            error=(
                tr(N_("Error: {reason}.")).format(reason=refused)
                if delayed
                else tr(N_("Error: wrong username or password."))
            ),
        )
        if isinstance(refused, SignInDelayed):
            page.headers["Retry-After"] = str(refused.retry_after)
        return page
    response = web.HTTPSeeOther(_safe_next(wanted))
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(TOKEN_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request, users.proxies),
    )
    raise response


async def staff_sign_out(request: web.Request) -> web.Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await revoke_token(request.app[STAFF_USERS].uows(request), token)
    response = web.HTTPSeeOther("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
