"""Instants as `qr` uses them: timezone-aware datetimes in, Unix seconds and minutes inside."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from qr.errors import NaiveTimeError, TimeRangeError

# What gates and services take to tell the time, so a test or a simulation can set it.
Clock = Callable[[], datetime]


# Instants users give are kept to these years: before 1970 credential minutes (unsigned) and
# TOTP steps have no meaning, and far from year 9999 a key lifetime, a TOTP window or a time
# zone added to an instant cannot run off the end of what `datetime` can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_aware(at: datetime, what: str = "time") -> datetime:
    """Return `at` unchanged, refusing a naive datetime (its instant would be a guess)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveTimeError(f"{what} must be timezone-aware, got {at.isoformat()}")
    return at


def parse_instant(text: str, what: str = "time") -> datetime:
    """Parse an ISO 8601 instant that carries its offset (`Z` or `+07:00`), from 1970 to 9000."""
    if not isinstance(text, str):
        raise NaiveTimeError(f"{what}: not an ISO 8601 time: {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise NaiveTimeError(f"{what}: not an ISO 8601 time: {text!r}") from exc
    return require_in_range(require_aware(value, what), what)


def require_in_range(at: datetime, what: str = "time") -> datetime:
    """Return the aware `at` unchanged, refusing an instant outside EARLIEST..LATEST."""
    if not EARLIEST <= at < LATEST:
        raise TimeRangeError(
            f"{what} {at.isoformat()} is outside {EARLIEST.year}..{LATEST.year - 1}"
        )
    return at


def unix_seconds(at: datetime) -> float:
    return require_aware(at).timestamp()


def to_minutes(at: datetime) -> int:
    """Whole minutes since the Unix epoch, rounded down (the credential's resolution)."""
    return int(unix_seconds(at) // 60)


def from_minutes(minutes: int) -> datetime:
    return datetime.fromtimestamp(minutes * 60, UTC)


def describe_minute(minutes: int) -> str:
    """The minute as ISO text; a 32-bit minute can lie past year 9999, which has no datetime."""
    try:
        return isoformat_z(from_minutes(minutes))
    except (OverflowError, ValueError, OSError):
        return f"minute {minutes} after the Unix epoch (beyond year 9999)"


def from_unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def isoformat_z(at: datetime) -> str:
    """UTC ISO 8601 with a `Z`, the form every `qr` document uses."""
    return require_aware(at).astimezone(UTC).isoformat().replace("+00:00", "Z")
