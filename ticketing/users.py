"""Users of the HTTP API: who they are (username, role, a passenger's account) and the rules
on what they may be called and use as a password. No I/O; stored by `ticketing.stores.users`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from ticketing.errors import InvalidUser

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # scrypt reads it all; a bound keeps a request from costing more


class UserRole(enum.StrEnum):
    PASSENGER = "passenger"  # a rider: their own account only
    OPERATOR = "operator"  # devices, lots, occupancy
    FINANCE = "finance"  # settlements, exceptions, statements
    INSPECTOR = "inspector"  # checks plates at on-street parking lots


@dataclass(frozen=True, slots=True)
class ApiUser:
    """An authenticated user: `account_id` is the rider account of a passenger, else None."""

    username: str
    role: UserRole
    account_id: str | None = None


def check_user(user: ApiUser) -> None:
    if not USERNAME.fullmatch(user.username):
        raise InvalidUser(
            f"username {user.username[:80]!r} must be 1-64 letters, digits or ._@+- "
            "and start with a letter or digit"
        )
    if (user.role is UserRole.PASSENGER) != (user.account_id is not None):
        raise InvalidUser("a passenger has a rider account, and only a passenger has one")


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidUser(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
