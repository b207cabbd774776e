"""API users and their bearer tokens (tables of `ticketing.db.users_models`).

The store keeps what it is given: the service (`ticketing.services.users`) hashes passwords
and tokens before they reach it, so nothing here ever sees a password or a usable token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import among, bulk_insert
from ticketing.db.models import table_of
from ticketing.db.users_models import ApiTokenRow, ApiUserRow, PasswordResetRow
from ticketing.errors import UserExists
from ticketing.users import ApiUser

USERS = table_of(ApiUserRow)


@dataclass(frozen=True, slots=True)
class StoredUser:
    user: ApiUser
    password_hash: str


@dataclass(frozen=True, slots=True)
class ResetCode:
    """A password reset code as stored (its hash), with the wrong guesses made at it."""

    id: int
    code_hash: str
    expires_at: datetime
    attempts: int


def _user(row: ApiUserRow) -> ApiUser:
    return ApiUser(row.username, row.role, row.account_id, row.display_name)


class Users:
    """API users (see the module docstring)."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    async def add(self, user: ApiUser, password_hash: str) -> None:
        """Store a new user; the username or the account already taken raises UserExists."""
        await self.add_many([user], password_hash)

    async def add_many(self, users: Sequence[ApiUser], password_hash: str) -> None:
        """Store new users, all with `password_hash`, in a few statements whatever their
        number; the first (in order) whose username or account is taken, stored or given
        earlier in `users`, raises UserExists and none is stored."""
        names = [user.username for user in users]
        account_ids = [user.account_id for user in users if user.account_id is not None]
        taken_names: set[str] = set()
        for where in among(self._session, USERS.c.username, sorted(set(names))):
            taken_names.update(await self._session.scalars(select(USERS.c.username).where(where)))
        taken_accounts: set[str | None] = set()
        for where in among(self._session, USERS.c.account_id, sorted(set(account_ids))):
            taken_accounts.update(
                await self._session.scalars(select(USERS.c.account_id).where(where))
            )
        for user in users:
            if user.username in taken_names:
                raise UserExists(f"user {user.username!r} exists")
            if user.account_id is not None and user.account_id in taken_accounts:
                raise UserExists(f"account {user.account_id!r} already has a user")
            taken_names.add(user.username)
            taken_accounts.add(user.account_id)
        now = self._clock()
        added = await bulk_insert(
            self._session,
            USERS,
            [
                {
                    "username": user.username,
                    "role": user.role,
                    "password_hash": password_hash,
                    "account_id": user.account_id,
                    "created_at": now,
                    "display_name": user.display_name,
                }
                for user in users
            ],
            skip_conflicts=True,  # a concurrent add that won the race: UserExists below
            returning=["username"],
        )
        stored = {name for (name,) in added}
        for user in users:
            if user.username not in stored:
                raise UserExists(f"user {user.username!r} exists")

    async def get(self, username: str) -> StoredUser | None:
        row = await self._session.get(ApiUserRow, username)
        return None if row is None else StoredUser(_user(row), row.password_hash)

    async def set_password(self, username: str, password_hash: str) -> None:
        await self._session.execute(
            update(ApiUserRow)
            .where(ApiUserRow.username == username)
            .values(password_hash=password_hash)
        )

    async def add_reset_code(self, username: str, code_hash: str, expires_at: datetime) -> None:
        self._session.add(
            PasswordResetRow(
                username=username, code_hash=code_hash, created_at=self._clock(),
                expires_at=expires_at, attempts=0, used_at=None,
            )
        )  # fmt: skip
        await self._session.flush()

    async def reset_codes_since(self, username: str, since: datetime) -> int:
        """How many reset codes were made for the user after `since` (the throttle)."""
        found = await self._session.scalar(
            select(func.count())
            .select_from(PasswordResetRow)
            .where(PasswordResetRow.username == username, PasswordResetRow.created_at > since)
        )
        return int(found or 0)

    async def live_reset_code(self, username: str, now: datetime) -> ResetCode | None:
        """The user's newest reset code if it is unused and unexpired at `now` (a newer code
        replaces every older one)."""
        row = await self._session.scalar(
            select(PasswordResetRow)
            .where(PasswordResetRow.username == username)
            .order_by(PasswordResetRow.created_at.desc(), PasswordResetRow.id.desc())
            .limit(1)
            .with_for_update()
        )
        if row is None or row.used_at is not None or row.expires_at <= now:
            return None
        return ResetCode(row.id, row.code_hash, row.expires_at, row.attempts)

    async def count_reset_attempt(self, code_id: int) -> None:
        await self._session.execute(
            update(PasswordResetRow)
            .where(PasswordResetRow.id == code_id)
            .values(attempts=PasswordResetRow.attempts + 1)
        )

    async def use_reset_code(self, code_id: int) -> None:
        await self._session.execute(
            update(PasswordResetRow)
            .where(PasswordResetRow.id == code_id)
            .values(used_at=self._clock())
        )

    async def add_token(self, token_hash: str, username: str, expires_at: datetime) -> None:
        self._session.add(
            ApiTokenRow(
                token_hash=token_hash,
                username=username,
                created_at=self._clock(),
                expires_at=expires_at,
                revoked_at=None,
            )
        )
        await self._session.flush()

    async def user_for_token(self, token_hash: str, now: datetime) -> ApiUser | None:
        """The user of a token neither revoked nor expired at `now`."""
        row = await self._session.scalar(
            select(ApiUserRow)
            .join(ApiTokenRow, ApiTokenRow.username == ApiUserRow.username)
            .where(
                ApiTokenRow.token_hash == token_hash,
                ApiTokenRow.revoked_at.is_(None),
                ApiTokenRow.expires_at > now,
            )
        )
        return None if row is None else _user(row)

    async def revoke_token(self, token_hash: str) -> bool:
        """Revoke one token; False if it was unknown or revoked already."""
        result = await self._session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.token_hash == token_hash, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=self._clock())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_tokens_of_account(self, account_id: str) -> int:
        """Revoke every live token of the rider account's user (every session of the
        account); how many were live."""
        users = select(ApiUserRow.username).where(ApiUserRow.account_id == account_id)
        result = await self._session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.username.in_(users), ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=self._clock())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_tokens_of(self, username: str) -> int:
        """Revoke every live token of a user (signed out everywhere); how many were live."""
        result = await self._session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.username == username, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=self._clock())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
