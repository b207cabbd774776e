"""Rides for the settlement tests: a metro ride on line 2A (m2a_01 to m2a_12) on a given day
and hour, tapped at the rider's own gate."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ticketing.taps import Tap, TapKind

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)
NEXT = date(2026, 11, 25)


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HANOI)


def ride(seq: int, account: str, day: date, hour: int) -> list[Tap]:
    return [
        Tap(f"gate-{account}", seq, 42, account, at(day, hour, 0), "m2a", "m2a_01", TapKind.ENTRY),
        Tap(
            f"gate-{account}",
            seq + 1,
            42,
            account,
            at(day, hour, 25),
            "m2a",
            "m2a_12",
            TapKind.EXIT,
        ),
    ]
