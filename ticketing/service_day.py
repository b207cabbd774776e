"""The service day of an instant: the local day that starts at the cut-off (04:00 in Hanoi).

A ride at 01:30 on the 8th still belongs to the 7th's service day, so daily caps and day passes
follow the rider's night rather than the calendar. Zone and cut-off are parameters (the fare feed
may override them); nothing here reads a clock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ticketing.errors import NaiveTime

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_CUTOFF = time(4, 0)
_ONE_DAY = timedelta(days=1)


def require_aware(at: datetime, what: str) -> datetime:
    """`at`, refused with NaiveTime unless it carries a UTC offset."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveTime(f"{what} must be timezone-aware, got {at!r}")
    return at


def service_day(
    at: datetime, *, timezone: ZoneInfo | None = None, cutoff: time = DEFAULT_CUTOFF
) -> date:
    """The service day `at` falls in: its local date, minus one day before the cut-off."""
    if at.tzinfo is None:  # inline: once per leg priced (utcoffset() is checked on taps)
        require_aware(at, "a service day's instant")
    local = at.astimezone(timezone or ZoneInfo(DEFAULT_TIMEZONE))
    day = local.date()
    return day - _ONE_DAY if local.time() < cutoff else day


def service_day_start(
    day: date, *, timezone: ZoneInfo | None = None, cutoff: time = DEFAULT_CUTOFF
) -> datetime:
    """The instant a service day begins (its cut-off, local time)."""
    return datetime.combine(day, cutoff, tzinfo=timezone or ZoneInfo(DEFAULT_TIMEZONE))


def service_month(day: date) -> date:
    """The calendar month a service day belongs to, as its first day (monthly caps key on it)."""
    return day.replace(day=1)
