"""When a service day may be settled, and the instants it spans.

A service day runs from 04:00 to 04:00 in Asia/Ho_Chi_Minh (`ticketing.service_day`); it may be
closed for settlement once it has ended (its cut-off, 04:00 the next morning), when no device
may still be recording a tap of it as on time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ticketing.service_day import service_day_start


def cut_off(day: date) -> datetime:
    """When `day` may be closed: 04:00 Asia/Ho_Chi_Minh the next morning."""
    return service_day_start(day + timedelta(days=1))


def day_window(day: date) -> tuple[datetime, datetime]:
    """The instants of `day`: [its start, the next day's start)."""
    return service_day_start(day), service_day_start(day + timedelta(days=1))
