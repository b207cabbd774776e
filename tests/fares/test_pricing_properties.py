"""Properties of pricing on the minicity feed over arbitrary tap sequences (hypothesis)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.fares import DayPrice, load_feed, price_day
from ticketing.money import Money
from ticketing.service_day import service_month
from ticketing.taps import Tap, TapKind

FEED = load_feed(Path(__file__).resolve().parents[1] / "fixtures" / "minicity")
START = datetime(2025, 9, 1, 5, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
METRO_STOPS = ("M_A", "M_B", "M_C")
BUS = (("B1", "S1"), ("B2", "S2"), ("B9", "S3"), ("B1", "S3"))
CAPS = {cap.cap_id: cap for cap in FEED.caps}


@st.composite
def tap_lists(draw: st.DrawFn) -> list[Tap]:
    """Up to 30 taps of one account over about two service days, any mix of kinds."""
    taps: list[Tap] = []
    for seq in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(list(TapKind)))
        minute = draw(st.integers(0, 36 * 60))
        if kind in (TapKind.ENTRY, TapKind.EXIT):
            route, stop = "M1", draw(st.sampled_from(METRO_STOPS))
        else:
            route, stop = draw(st.sampled_from(BUS))
        taps.append(
            Tap(f"dev-{stop}", seq, 7, "acct", START + timedelta(minutes=minute), route, stop, kind)
        )
    return taps


categories = st.sampled_from([None, "adult", "student", "child"])


@settings(max_examples=150, deadline=None)
@given(tap_lists(), categories, st.randoms(use_true_random=False))
def test_any_arrival_order_and_any_reupload_prices_the_same(
    taps: list[Tap], category: str | None, rnd: random.Random
) -> None:
    expected = price_day(FEED, taps, rider_category=category)
    shuffled = taps + rnd.sample(taps, k=len(taps) // 3)
    rnd.shuffle(shuffled)
    assert price_day(FEED, shuffled, rider_category=category) == expected


def _spend_by_period(day: DayPrice, cap_id: str) -> dict[date, int]:
    cap = CAPS[cap_id]
    spend: dict[date, int] = defaultdict(int)
    for leg in day.legs:
        if cap.network_id in (None, leg.network_id):
            period = leg.service_day if cap.period == "day" else service_month(leg.service_day)
            spend[period] += leg.charged.amount
    return spend


@settings(max_examples=150, deadline=None)
@given(tap_lists(), categories, st.integers(0, 300_000))
def test_no_period_ever_costs_more_than_its_cap(
    taps: list[Tap], category: str | None, month_to_date: int
) -> None:
    prior = {"bus_month": Money(month_to_date, "VND")}
    day = price_day(FEED, taps, rider_category=category, month_to_date=prior)
    assert day.total.amount == sum(leg.charged.amount for leg in day.legs)
    for cap_id in ("metro_day", "all_day"):
        assert all(
            spent <= CAPS[cap_id].amount.amount for spent in _spend_by_period(day, cap_id).values()
        )
    for spent in _spend_by_period(day, "bus_month").values():
        assert spent <= max(0, CAPS["bus_month"].amount.amount - month_to_date)
