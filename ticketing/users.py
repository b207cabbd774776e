"""Users of the HTTP API: who they are (username, role, a passenger's account) and the rules
on what they may be called and use as a password. No I/O; stored by `ticketing.stores.users`.

A rider signs in with a phone number or an e-mail address: `login_name` makes the one stored
form of either (a Vietnamese number as typed, `0912 345 678`, becomes E.164 `+84912345678`;
an address is kept in lower case), so any way of writing it finds the same user. Their name as
shown is the `display_name`, in any script (`Nguyễn Văn A`). Staff (and API clients of old)
have plain usernames.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers

from ticketing.errors import InvalidUser

USERNAME = re.compile(r"[A-Za-z0-9+][A-Za-z0-9._@+-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # scrypt reads it all; a bound keeps a request from costing more
MAX_DISPLAY_NAME = 100
PHONE_REGION = "VN"  # a number without a country code is a Vietnamese one
# What a phone number may be typed with: digits, a leading +, spaces, dots, dashes, brackets.
PHONE_TYPED = re.compile(r"\+?[0-9(][0-9 .()-]*")
EMAIL = re.compile(r"[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


class LoginKind(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    USERNAME = "username"  # staff, and API clients that register plain names


def login_kind(name: str) -> LoginKind:
    """What a stored login name is (as `login_name` made it)."""
    if name.startswith("+"):
        return LoginKind.PHONE
    return LoginKind.EMAIL if "@" in name else LoginKind.USERNAME


def login_name(typed: str) -> str:
    """The stored form of what a rider types to sign in (see the module docstring); a plain
    username is returned as it is. InvalidUser for a phone number that is no number (in
    Vietnam, or with its country code) or an address that is no address."""
    text = typed.strip()
    if "@" in text:
        if len(text) > 64 or not EMAIL.fullmatch(text):
            raise InvalidUser("an e-mail address is name@domain, at most 64 characters")
        return text.lower()
    if PHONE_TYPED.fullmatch(text):
        try:
            number = phonenumbers.parse(text[:40], PHONE_REGION) if len(text) <= 40 else None
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise InvalidUser(
                f"{text[:30]!r} is not a phone number (a Vietnamese one, or with its country code)"
            )
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return text


def display_name(typed: str) -> str:
    """A rider's name as they write it, in any script: trimmed, inner spaces made one, in
    Unicode NFC (so `Nguyễn` typed with combining marks is stored as it is typed precomposed);
    1 to 100 characters with no control characters."""
    name = " ".join(unicodedata.normalize("NFC", typed).split())
    if not 0 < len(name) <= MAX_DISPLAY_NAME or not name.isprintable():
        raise InvalidUser(
            f"a display name has 1 to {MAX_DISPLAY_NAME} printable characters"
        )
    return name


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
    display_name: str | None = None  # a rider's name as shown; None: shown as the username


def check_user(user: ApiUser) -> None:
    if not USERNAME.fullmatch(user.username):
        raise InvalidUser(
            f"username {user.username[:80]!r} must be 1-64 letters, digits or ._@+- "
            "and start with a letter, digit or +"
        )
    if (user.role is UserRole.PASSENGER) != (user.account_id is not None):
        raise InvalidUser("a passenger has a rider account, and only a passenger has one")


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidUser(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt's work factors: n (CPU/memory, a power of two), r (block size), p (parallelism).

    New hashes (registration, a reset, a user added) are made at the configured cost
    (`faregate.config.Settings.password_cost`, the production default unless set); a stored
    hash is always checked at the cost written in it."""

    n: int = 2**14
    r: int = 8
    p: int = 1


DEFAULT_COST = ScryptCost()
# The largest n whose memory (128 * r * n bytes at r = 8) stays inside the 64 MiB that
# ticketing.services.users lets scrypt use.
MAX_SCRYPT_N = 2**15
