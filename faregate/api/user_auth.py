"""Bearer-token auth of API users: passengers, operators and finance staff.

`Authorization: Bearer <token>` (a token from `POST /api/v1/sessions`) is looked up by its
SHA-256 on every request (`ticketing.services.users.user_for_token`), so a revoked or expired
token stops working at once, on every server process. A missing, malformed, unknown, revoked or
expired token is a 401 with `WWW-Authenticate: Bearer`; a live token of the wrong role is a
403. Passenger requests then count against the passenger's rate limit (429 with Retry-After).
"""

from __future__ import annotations

import re

from aiohttp import web

from faregate.api.context import CONFIG, RATE_LIMITER, UOWS
from faregate.api.errors import Problem
from faregate.api.registry import Auth, Guard
from ticketing.services.users import MAX_TOKEN, user_for_token
from ticketing.users import ApiUser, UserRole

ROLE_OF = {
    Auth.PASSENGER: UserRole.PASSENGER,
    Auth.OPERATOR: UserRole.OPERATOR,
    Auth.FINANCE: UserRole.FINANCE,
    Auth.INSPECTOR: UserRole.INSPECTOR,
}
_BEARER = re.compile(rf"Bearer +([A-Za-z0-9._~+/=-]{{1,{MAX_TOKEN}}})", re.IGNORECASE)


def unauthorized(detail: str) -> Problem:
    return Problem(
        401, "unauthorized", "Unauthorized", detail,
        headers={"WWW-Authenticate": 'Bearer realm="faregate"'},
    )  # fmt: skip


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization")
    if header is None:
        raise unauthorized("missing Authorization: Bearer token; sign in at POST /api/v1/sessions")
    match = _BEARER.fullmatch(header.strip())
    if match is None:
        raise unauthorized("malformed Authorization header; expected `Bearer <token>`")
    return match.group(1)


def bearer_guard(auth: Auth) -> Guard:
    """The guard of routes declared with `auth` (a bearer Auth): the user, or a Problem."""
    role = ROLE_OF.get(auth)

    async def guard(request: web.Request, body: bytes) -> ApiUser:
        app = request.app
        user = await user_for_token(app[UOWS], bearer_token(request))
        if user is None:
            raise unauthorized("unknown, expired or revoked token; sign in again")
        if role is not None and user.role is not role:
            raise Problem(
                403, "forbidden", "Forbidden",
                f"this route is for {role.value} users; {user.username} is {user.role.value}",
            )  # fmt: skip
        if role is UserRole.PASSENGER:
            await app[RATE_LIMITER].hit(f"passenger:{user.username}", app[CONFIG].passenger_rate)
        return user

    return guard


def bearer_guards() -> dict[Auth, Guard]:
    return {auth: bearer_guard(auth) for auth in Auth if auth.bearer}
