"""When a service day may be settled, and the instants it spans.

A service day runs from 04:00 to 04:00 in Asia/Ho_Chi_Minh (`ticketing.service_day`); it may be
closed for settlement once it has ended (its cut-off, 04:00 the next morning), when no device
may still be recording a tap of it as on time.

The settlement calendar is every service day from the first day with activity (a tap, or any
posting: a parking fee, a pass or permit sold, a top-up) to the current service day, rideless
days included: each is listed with its state, and each closed one can be settled. A day before
the first activity is refused (`DayOutsideCalendar`): there is nothing to settle and nothing
that ever could be (a tap dated later is a later day's). Days after the current one are not
listed, since they cannot be closed yet (`DayNotClosed`), whatever dates a faulty device sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from ticketing.service_day import service_day, service_day_start
from ticketing.settlement.errors import DayNotClosed, DayOutOfRange, DayOutsideCalendar

# The days settlement handles: 0001-01-01 and 9999-12-31 have instants (a next morning, an
# offset from UTC) that datetime cannot hold.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(8999, 12, 31)


def check_day(day: date) -> date:
    """`day`, or DayOutOfRange outside FIRST_DAY..LAST_DAY."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DayOutOfRange(
            f"day {day.isoformat()} is outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}"
        )
    return day


def cut_off(day: date) -> datetime:
    """When `day` may be closed: 04:00 Asia/Ho_Chi_Minh the next morning."""
    return service_day_start(check_day(day) + timedelta(days=1))


def day_window(day: date) -> tuple[datetime, datetime]:
    """The instants of `day`: [its start, the next day's start)."""
    return service_day_start(check_day(day)), service_day_start(day + timedelta(days=1))


def calendar_days(first: date | None, now: datetime) -> Iterator[date]:
    """The service days of the calendar, oldest first: from `first` (the first day with
    activity; None: there has been none) to the current service day at `now`."""
    if first is None:
        return
    current, last = first, service_day(now)
    while current <= last:
        yield current
        current += timedelta(days=1)


def check_settleable(day: date, first: date | None, now: datetime) -> None:
    """Refuse `day` unless it is a closed day of the calendar (see the module docstring)."""
    if first is None or day < first:
        since = "nothing has happened yet" if first is None else f"the first is {first}"
        raise DayOutsideCalendar(
            f"service day {day} is not in the settlement calendar: it had no activity and "
            f"none before it ({since})"
        )
    if now < cut_off(day):
        raise DayNotClosed(
            f"service day {day} cannot be settled before its cut-off "
            f"{cut_off(day).isoformat()} (now {now.astimezone(cut_off(day).tzinfo).isoformat()})"
        )
