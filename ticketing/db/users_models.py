"""Tables of API users, their bearer tokens (migration 0008_api_users) and the one-time
codes of password resets (0021_rider_sign_up).

A password is stored only as its scrypt hash (parameters and salt inside the string), a
bearer token and a reset code only as SHA-256: no table holds anything a client could present.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import Base, SurrogateKey, _enum
from ticketing.users import UserRole


class ApiUserRow(Base):
    __tablename__ = "api_users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'passenger') = (account_id IS NOT NULL)", name="account_iff_passenger"
        ),
    )

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[UserRole] = mapped_column(_enum(UserRole))
    password_hash: Mapped[str] = mapped_column(String(200))
    # One user per rider account; no foreign key, as taps: the account may be opened in the
    # same transaction by the passenger API.
    account_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    # A rider's name as shown, in any script (the username is their phone or e-mail).
    display_name: Mapped[str | None] = mapped_column(String(100))


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    username: Mapped[str] = mapped_column(ForeignKey("api_users.username"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class PasswordResetRow(Base):
    """A one-time code sent to reset a password: only the newest unused, unexpired one of a
    user counts; `attempts` counts wrong guesses at it."""

    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(ForeignKey("api_users.username"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of username and code
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int]
    used_at: Mapped[datetime | None]
