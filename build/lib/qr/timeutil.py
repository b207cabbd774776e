"""Instants as `qr` uses them: timezone-aware datetimes in, Unix seconds and minutes inside."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from qr.errors import NaiveTimeError

# What gates and services take to tell the time, so a test or a simulation can set it.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_aware(at: datetime, what: str = "time") -> datetime:
    """Return `at` unchanged, refusing a naive datetime (its instant would be a guess)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveTimeError(f"{what} must be timezone-aware, got {at.isoformat()}")
    return at


def parse_instant(text: str, what: str = "time") -> datetime:
    """Parse an ISO 8601 instant that carries its offset (`Z` or `+07:00`)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise NaiveTimeError(f"{what}: not an ISO 8601 time: {text!r}") from exc
    return require_aware(value, what)


def unix_seconds(at: datetime) -> float:
    return require_aware(at).timestamp()


def to_minutes(at: datetime) -> int:
    """Whole minutes since the Unix epoch, rounded down (the credential's resolution)."""
    return int(unix_seconds(at) // 60)


def from_minutes(minutes: int) -> datetime:
    return datetime.fromtimestamp(minutes * 60, UTC)


def from_unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def isoformat_z(at: datetime) -> str:
    """UTC ISO 8601 with a `Z`, the form every `qr` document uses."""
    return require_aware(at).astimezone(UTC).isoformat().replace("+00:00", "Z")
