"""Domain code raises its package's errors (TicketingError and below), never a bare ValueError."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from ticketing.errors import NaiveTime, TicketingError
from ticketing.fares import load_feed
from ticketing.gtfs import FeedError
from ticketing.service_day import service_day
from ticketing.taps import Tap, TapKind


def test_a_naive_tap_time_is_a_ticketing_error() -> None:
    with pytest.raises(NaiveTime, match="tap time must be timezone-aware") as raised:
        Tap("dev", 1, 1, "acct", datetime(2025, 9, 1, 8, 0), "B1", "S1", TapKind.BOARD)
    assert isinstance(raised.value, TicketingError)


def test_a_naive_instant_has_no_service_day() -> None:
    with pytest.raises(NaiveTime, match="must be timezone-aware"):
        service_day(datetime(2025, 9, 1, 8, 0))


@pytest.mark.parametrize("text", ["²:00:00", "8:60:00", "8:00", "-1:00:00", "8:00:0x"])
def test_a_bad_timeframe_time_is_a_feed_error(feed_dir: Callable[..., Path], text: str) -> None:
    path = feed_dir(
        timeframes=f"timeframe_group_id,start_time,end_time,service_id\noff_peak,{text},"
        "16:00:00,weekdays\n"
    )
    with pytest.raises(
        FeedError, match=f'timeframes.txt line 2: start_time "{text}" is not a time'
    ):
        load_feed(path)
