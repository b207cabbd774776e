"""Sign in and out: bearer tokens for passengers, operators and finance staff.

- `POST /api/v1/sessions`: username and password -> a bearer token (shown once; the server
  keeps only its SHA-256), its expiry and the user. Wrong username or password: 401, the same
  answer for both. Failed attempts of a username from one client are slowed by growing delays
  (429 with Retry-After; faregate.web.sign_in_throttle).
- `GET /api/v1/me`: who the token belongs to.
- `DELETE /api/v1/sessions/current`: revoke the token the request carries (sign out).

Users are created by `faregate users add` (operator, finance) or by registering through the
passenger API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from faregate.api.context import CONFIG, UOWS
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.api.user_auth import bearer_token
from faregate.web.clients import client_address
from faregate.web.sign_in_throttle import SIGN_IN_THROTTLE, throttled_sign_in
from ticketing.services.users import revoke_token
from ticketing.users import MAX_PASSWORD, ApiUser, UserRole

routes = RouteRegistry()


class SignInRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASSWORD)]


class UserDocument(msgspec.Struct, kw_only=True):
    username: str
    role: UserRole
    account_id: str | None

    @classmethod
    def of(cls, user: ApiUser) -> UserDocument:
        return cls(username=user.username, role=user.role, account_id=user.account_id)


class SessionDocument(msgspec.Struct, kw_only=True):
    """Send `token` as `Authorization: Bearer <token>`; it is never shown again."""

    token: str
    token_type: Literal["Bearer"]
    expires_at: datetime
    user: UserDocument


class SignedOut(msgspec.Struct, kw_only=True):
    revoked: bool


@routes.route(
    "POST", "/api/v1/sessions", summary="Sign in for a bearer token", tag="sessions",
    body=SignInRequest, response=SessionDocument, errors=[401, 429],
)  # fmt: skip
async def create_session(call: Call) -> SessionDocument:
    request = call.body_as(SignInRequest)
    app, config = call.app, call.app[CONFIG]
    client = client_address(call.request, config.trusted_proxies)
    session = await throttled_sign_in(
        app[SIGN_IN_THROTTLE], app[UOWS], request.username, request.password, client,
        cost=config.settings.password_cost,
    )  # fmt: skip
    return SessionDocument(
        token=session.token,
        token_type="Bearer",
        expires_at=session.expires_at,
        user=UserDocument.of(session.user),
    )


@routes.route(
    "GET", "/api/v1/me", summary="The signed-in user", tag="sessions",
    auth=Auth.SIGNED_IN, response=UserDocument,
)  # fmt: skip
async def get_me(call: Call) -> UserDocument:
    return UserDocument.of(call.user)


@routes.route(
    "DELETE", "/api/v1/sessions/current", summary="Sign out: revoke this token",
    tag="sessions", auth=Auth.SIGNED_IN, response=SignedOut,
)  # fmt: skip
async def delete_session(call: Call) -> SignedOut:
    return SignedOut(revoked=await revoke_token(call.app[UOWS], bearer_token(call.request)))
