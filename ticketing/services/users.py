"""Use cases of API users: create one, sign in for a bearer token, find the user of a token,
revoke tokens.

Passwords are hashed with scrypt (`hashlib.scrypt`, parameters and salt kept in the stored
string, so raising the cost later still verifies old hashes) in a worker thread, never on the
event loop. A bearer token is 32 random bytes; only its SHA-256 is stored, so a copy of the
database signs nobody in. Tokens expire (`TOKEN_TTL`) and can be revoked one by one or all
of a user's at once.

    user = await create_user(uows, "ops", "a long password", UserRole.OPERATOR)
    session = await sign_in(uows, "ops", "a long password")      # session.token: give to client
    await user_for_token(uows, session.token)                     # -> ApiUser | None
    await revoke_token(uows, session.token)

A passenger's user is created with their rider account in one transaction by calling
`hash_password` first and `add_user(uow, ...)` inside the caller's unit of work.

Staff actions are in the audit log, each in the transaction that does it: a staff user's
sign-in and sign-out, a user added `by` someone, a user signed out everywhere `by` someone.
A passenger's own sign-in and sign-out are not staff actions and are not recorded.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.errors import BadCredentials, InvalidUser, UnknownUser
from ticketing.services.audit import record
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow
from ticketing.users import (
    DEFAULT_COST as DEFAULT_COST,
)
from ticketing.users import (
    USERNAME,
    ApiUser,
    UserRole,
    check_password,
    check_user,
    login_name,
)
from ticketing.users import (
    ScryptCost as ScryptCost,
)

TOKEN_TTL = timedelta(days=30)
TOKEN_BYTES = 32
MAX_TOKEN = 200  # longer bearer strings are refused unhashed


_SALT_BYTES = 16
_KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A session: the bearer token (shown once, stored only hashed), its user and expiry."""

    token: str
    user: ApiUser
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=_MAXMEM, dklen=_KEY_BYTES,
    )  # fmt: skip


def _hash_now(password: str, cost: ScryptCost) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, cost)
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(key)}"


def _verify_now(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        cost = ScryptCost(int(n), int(r), int(p))
        expected = base64.b64decode(key, validate=True)
        computed = _scrypt(password, base64.b64decode(salt, validate=True), cost)
    except ValueError:  # a malformed stored hash matches no password
        return False
    return hmac.compare_digest(computed, expected)


async def hash_password(password: str, cost: ScryptCost = DEFAULT_COST) -> str:
    """The scrypt hash to store for `password` (checked for length first)."""
    check_password(password)
    return await asyncio.to_thread(_hash_now, password, cost)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(_verify_now, password, stored)


@functools.cache
def dummy_hash(cost: ScryptCost = DEFAULT_COST) -> str:
    """A hash to verify against when the user does not exist, made at the cost new users'
    hashes are made with (the server's configured one), so an unknown username costs the same
    time as a wrong password (no username probing by timing). Made on first use for each cost:
    it costs what a sign-in costs."""
    return _hash_now("no such user, no such password", cost)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _is_staff(user: ApiUser) -> bool:
    return user.role is not UserRole.PASSENGER


def _target(username: str) -> Target:
    return Target(TargetKind.USER, username)


async def add_user(uow: UnitOfWork, user: ApiUser, password_hash: str) -> ApiUser:
    """Store a user inside the caller's transaction (e.g. with the passenger's account)."""
    check_user(user)
    await uow.users.add(user, password_hash)
    return user


async def create_user(
    uows: UnitOfWorkFactory,
    username: str,
    password: str,
    role: UserRole,
    *,
    account_id: str | None = None,
    cost: ScryptCost = DEFAULT_COST,
    by: Actor | None = None,
) -> ApiUser:
    """A new user in its own transaction; raises InvalidUser or UserExists. `by`: who adds
    them, recorded in the audit log with the user (None: a test's fixture, not recorded)."""
    user = ApiUser(username, role, account_id)
    check_user(user)
    password_hash = await hash_password(password, cost)

    async def create(uow: UnitOfWork) -> ApiUser:
        added = await add_user(uow, user, password_hash)
        if by is not None:
            await record(
                uow, by, AuditAction.USER_ADDED, _target(username), after={"role": role.value}
            )
        return added

    return await run_in_uow(uows, create)


async def sign_in(
    uows: UnitOfWorkFactory,
    username: str,
    password: str,
    *,
    ttl: timedelta = TOKEN_TTL,
    cost: ScryptCost = DEFAULT_COST,
) -> SignedIn:
    """A new bearer token for the user; a wrong username or password raises BadCredentials
    (the same error and about the same time for both: an unknown user's password is checked
    against a dummy hash at `cost`, the cost new users' hashes are made with). A rider's
    phone number or e-mail address may be written any way (`0912 345 678`): it is looked up
    as stored (login_name)."""
    stored = None
    try:
        username = login_name(username)
    except InvalidUser:
        username = ""  # no number, no address: nobody, answered as below
    # A name no user can have (a NUL, which PostgreSQL text cannot even hold) is looked up
    # nowhere, and answered as an unknown user is: after a password check's time.
    if USERNAME.fullmatch(username):
        async with uows() as uow:
            stored = await uow.users.get(username)
    known = stored.password_hash if stored else await asyncio.to_thread(dummy_hash, cost)
    ok = await verify_password(password, known)
    if stored is None or not ok:
        raise BadCredentials("wrong username or password")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    user = stored.user

    async def open_session(uow: UnitOfWork) -> datetime:
        expires_at = uow.clock() + ttl
        await uow.users.add_token(token_hash(token), user.username, expires_at)
        if _is_staff(user):
            await record(
                uow, Actor.of(user), AuditAction.SIGN_IN, _target(user.username),
                after={"expires_at": expires_at.isoformat()},
            )  # fmt: skip
        return expires_at

    expires_at = await run_in_uow(uows, open_session)
    return SignedIn(token, user, expires_at)


async def user_for_token(uows: UnitOfWorkFactory, token: str) -> ApiUser | None:
    """The user a live (not revoked, not expired) token belongs to, else None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    async with uows() as uow:
        return await uow.users.user_for_token(token_hash(token), uow.clock())


async def revoke_token(uows: UnitOfWorkFactory, token: str) -> bool:
    """Revoke one token (sign out); False if it was unknown or already revoked."""
    if not token or len(token) > MAX_TOKEN:
        return False
    hashed = token_hash(token)

    async def revoke(uow: UnitOfWork) -> bool:
        user = await uow.users.user_for_token(hashed, uow.clock())
        revoked = await uow.users.revoke_token(hashed)
        if revoked and user is not None and _is_staff(user):
            await record(uow, Actor.of(user), AuditAction.SIGN_OUT, _target(user.username))
        return revoked

    return await run_in_uow(uows, revoke)


async def revoke_all_tokens(
    uows: UnitOfWorkFactory, username: str, *, by: Actor | None = None
) -> int:
    """Sign a user out everywhere (e.g. a lost phone); how many tokens were live. `by`: the
    member of staff or administrator who did it, recorded in the audit log (None: the user
    themselves, not recorded). UnknownUser if nobody has `username` (a typo must not read as
    a user signed out)."""

    async def revoke(uow: UnitOfWork) -> int:
        if await uow.users.get(username) is None:
            raise UnknownUser(f"no user {username[:80]!r}")
        revoked = await uow.users.revoke_tokens_of(username)
        if by is not None:
            await record(
                uow, by, AuditAction.SIGN_OUT, _target(username),
                after={"tokens_revoked": revoked}, reason="signed out everywhere",
            )  # fmt: skip
        return revoked

    return await run_in_uow(uows, revoke)
