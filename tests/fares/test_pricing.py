"""Pricing on the synthetic minicity feed: leg rules, categories, media, incomplete journeys,
transfers, join rules, passes and caps, each against hand-computed amounts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ticketing.fares import (
    FareError,
    FareFeed,
    HeldPass,
    QuoteLeg,
    load_feed,
    pass_validity,
    price_day,
    quote,
)
from ticketing.money import Money
from ticketing.taps import Tap, TapKind

E, X, B, A = TapKind.ENTRY, TapKind.EXIT, TapKind.BOARD, TapKind.ALIGHT
TapMaker = Callable[..., Tap]
Local = Callable[[str], datetime]
FeedDir = Callable[..., Path]

# 2025-09-01 is a Monday; 2025-09-02 is removed from the weekday service (calendar_dates).
MONDAY = "2025-09-01"
# price_day of one B1 boarding at S1 on MONDAY 08:00 (device v, seq 1), computed at commit
# e7ef473, before DayPrice had unpriced legs.
FINGERPRINT_BEFORE_UNPRICED_LEGS = (
    "4064a7315972fe26f2f8cd6633fdbe18d4f27794280f982a42691f61d316776c"
)


def metro(tap: TapMaker, origin: str, destination: str, at: str, minutes: int = 20) -> list[Tap]:
    start = datetime.fromisoformat(at)
    end = (start + timedelta(minutes=minutes)).isoformat(sep=" ")
    return [tap(E, "M1", origin, at), tap(X, "M1", destination, end)]


def charged(day_taps: list[Tap], feed: FareFeed, **options: object) -> list[int]:
    return [leg.charged.amount for leg in price_day(feed, day_taps, **options).legs]  # type: ignore[arg-type]


def test_metro_fare_by_station_pair(minicity: FareFeed, tap: TapMaker) -> None:
    day = price_day(
        minicity,
        [
            *metro(tap, "M_A", "M_B", f"{MONDAY} 08:00"),
            *metro(tap, "M_A", "M_C", f"{MONDAY} 17:00"),
        ],
    )
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("m_short", 8000),
        ("m_long", 12000),
    ]
    assert day.total == Money(20000, "VND")
    assert day.legs[0].agency_id == "metro_co"
    assert day.legs[0].network_id == "metro"


def test_higher_priority_off_peak_rule_wins_on_service_days_only(
    minicity: FareFeed, tap: TapMaker
) -> None:
    assert charged(metro(tap, "M_A", "M_C", f"{MONDAY} 11:00"), minicity) == [6000]
    # Removed from the weekday service by calendar_dates.txt, and a Saturday: no off-peak.
    assert charged(metro(tap, "M_A", "M_C", "2025-09-02 11:00"), minicity) == [12000]
    assert charged(metro(tap, "M_A", "M_C", "2025-09-06 11:00"), minicity) == [12000]
    # 16:00 is the timeframe's (excluded) end.
    assert charged(metro(tap, "M_A", "M_C", f"{MONDAY} 16:00"), minicity) == [12000]


@pytest.mark.parametrize(
    ("category", "metro_fare", "bus_fare"),
    [(None, 8000, 8000), ("adult", 8000, 8000), ("student", 4000, 4000), ("child", 0, 0)],
)
def test_rider_categories(
    minicity: FareFeed, tap: TapMaker, category: str | None, metro_fare: int, bus_fare: int
) -> None:
    taps = [*metro(tap, "M_A", "M_B", f"{MONDAY} 08:00"), tap(B, "B1", "S1", f"{MONDAY} 18:00")]
    assert charged(taps, minicity, rider_category=category) == [metro_fare, bus_fare]


def test_unknown_category_is_an_error(minicity: FareFeed, tap: TapMaker) -> None:
    with pytest.raises(FareError, match='unknown rider category "pensioner"'):
        price_day(minicity, metro(tap, "M_A", "M_B", f"{MONDAY} 08:00"), rider_category="pensioner")


def test_fare_medium_selects_its_price(minicity: FareFeed, tap: TapMaker) -> None:
    taps = metro(tap, "M_A", "M_B", f"{MONDAY} 08:00")
    assert charged(taps, minicity) == [8000]
    assert charged(taps, minicity, fare_media_id="cash") == [9000]


def test_incomplete_journey_charged_the_maximum_then_corrected(
    minicity: FareFeed, tap: TapMaker
) -> None:
    entry, exit_ = metro(tap, "M_B", "M_C", f"{MONDAY} 08:00")
    # From M_B every destination costs m_short; from M_A the maximum is m_long.
    before = price_day(minicity, [entry])
    assert before.legs[0].incomplete
    assert before.total.amount == 8000
    far_entry = tap(E, "M1", "M_A", f"{MONDAY} 09:00")
    incomplete = price_day(minicity, [entry, exit_, far_entry])
    assert [leg.charged.amount for leg in incomplete.legs] == [8000, 12000]
    assert incomplete.legs[1].incomplete
    late_exit = tap(X, "M1", "M_B", f"{MONDAY} 09:20")
    corrected = price_day(minicity, [late_exit, entry, far_entry, exit_])
    assert [leg.charged.amount for leg in corrected.legs] == [8000, 8000]
    assert not corrected.legs[1].incomplete
    assert corrected.legs[1].journey_id == incomplete.legs[1].journey_id


def test_orphan_exit_and_overlong_journey_pay_the_maximum(
    minicity: FareFeed, tap: TapMaker
) -> None:
    orphan = price_day(minicity, [tap(X, "M1", "M_C", f"{MONDAY} 08:00")])
    assert orphan.total.amount == 12000
    assert orphan.legs[0].incomplete
    overlong = price_day(minicity, metro(tap, "M_A", "M_B", f"{MONDAY} 08:00", minutes=181))
    assert overlong.total.amount == 12000
    assert overlong.legs[0].incomplete


def test_bus_to_bus_within_the_hour_is_free(minicity: FareFeed, tap: TapMaker) -> None:
    taps = [
        tap(B, "B1", "S1", f"{MONDAY} 08:00"),
        tap(B, "B2", "S2", f"{MONDAY} 08:40"),
        tap(B, "B9", "S3", f"{MONDAY} 08:59"),  # third leg, transfer_count -1: still free
        tap(B, "B1", "S3", f"{MONDAY} 09:01"),  # 61 minutes after the first: a new fare
    ]
    day = price_day(minicity, taps)
    assert [leg.charged.amount for leg in day.legs] == [8000, 0, 0, 8000]
    assert [leg.undiscounted.amount for leg in day.legs] == [8000, 8000, 20000, 8000]


def test_bus_to_metro_transfer_discount_is_a_plus_ab_plus_b(
    minicity: FareFeed, tap: TapMaker
) -> None:
    taps = [tap(B, "B1", "S1", f"{MONDAY} 08:00"), *metro(tap, "M_A", "M_C", f"{MONDAY} 08:30")]
    day = price_day(minicity, taps)
    assert [leg.charged.amount for leg in day.legs] == [8000, 12000 - 2000]
    assert day.legs[1].transfer_product_id == "bus_metro_discount"
    # Metro to bus has no rule: two full fares.
    later = [*metro(tap, "M_A", "M_C", f"{MONDAY} 18:00"), tap(B, "B1", "S1", f"{MONDAY} 18:30")]
    assert charged(later, minicity) == [12000, 8000]


def test_join_rules_price_consecutive_legs_as_one(feed_dir: FeedDir, tap: TapMaker) -> None:
    feed = load_feed(
        feed_dir(
            fare_leg_join_rules="from_network_id,to_network_id,from_stop_id,to_stop_id\n"
            "bus_short,bus_short,S2,S2\n"
        )
    )
    joined = [
        tap(B, "B1", "S1", f"{MONDAY} 08:00"),
        tap(A, "B1", "S2", f"{MONDAY} 08:10"),
        tap(B, "B2", "S2", f"{MONDAY} 08:15"),
    ]
    day = price_day(feed, joined)
    assert [leg.charged.amount for leg in day.legs] == [8000, 0]
    assert all(leg.joined for leg in day.legs)
    assert day.legs[1].fare_product_id == "bus_8000"
    elsewhere = [tap(B, "B1", "S1", f"{MONDAY} 12:00"), tap(B, "B2", "S3", f"{MONDAY} 12:15")]
    assert not any(leg.joined for leg in price_day(feed, elsewhere).legs)


def test_empty_fields_without_rule_priority_mean_everything_not_listed(
    feed_dir: FeedDir, tap: TapMaker
) -> None:
    feed = load_feed(
        feed_dir(
            fare_leg_rules="leg_group_id,network_id,from_area_id,to_area_id,fare_product_id\n"
            "metro,metro,a_A,a_B,m_short\n"
            "metro,metro,,,m_long\n"
            "bus,,,,bus_8000\n"
            "bus,bus_long,,,bus_20000\n",
            timeframes=None,
        )
    )
    assert not feed.gtfs.has_rule_priority
    assert charged(metro(tap, "M_A", "M_B", f"{MONDAY} 08:00"), feed) == [8000]
    # a_A is listed as an origin, so the empty-origin rule does not cover A -> C.
    [unpriced] = price_day(feed, metro(tap, "M_A", "M_C", f"{MONDAY} 09:00")).unpriced_legs
    assert unpriced.reason == 'no fare on route "M1" from "M_A" to "M_C"'
    assert charged(metro(tap, "M_C", "M_A", f"{MONDAY} 10:00"), feed) == [12000]
    # Empty network: every network not listed (bus_short), but not bus_long or metro.
    assert charged([tap(B, "B1", "S1", f"{MONDAY} 11:00")], feed) == [8000]
    assert charged([tap(B, "B9", "S1", f"{MONDAY} 13:00")], feed) == [20000]


def test_pass_covers_legs_at_zero_and_keeps_their_value(
    minicity: FareFeed, tap: TapMaker, local: Local
) -> None:
    day_pass = pass_validity(minicity, "metro_day", local(f"{MONDAY} 07:00"))
    assert day_pass.valid_until == local("2025-09-02 04:00")
    taps = [*metro(tap, "M_A", "M_C", f"{MONDAY} 08:00"), tap(B, "B1", "S1", f"{MONDAY} 18:00")]
    day = price_day(minicity, taps, passes=[day_pass])
    assert [leg.charged.amount for leg in day.legs] == [0, 8000]
    assert day.legs[0].pass_covered
    assert day.legs[0].pass_product_id == "metro_day"
    assert day.legs[0].undiscounted.amount == 12000
    next_day = metro(tap, "M_A", "M_C", "2025-09-02 08:00")
    assert charged(next_day, minicity, passes=[day_pass]) == [12000]


def test_monthly_one_route_pass(minicity: FareFeed, tap: TapMaker, local: Local) -> None:
    month = pass_validity(minicity, "bus_month_b1", local("2025-01-31 09:00"))
    assert month.valid_until == local("2025-02-28 04:00")
    taps = [tap(B, "B1", "S1", "2025-02-10 08:00"), tap(B, "B2", "S2", "2025-02-10 18:00")]
    day = price_day(minicity, taps, passes=[month])
    assert [leg.charged.amount for leg in day.legs] == [0, 8000]


def test_unknown_pass_product_is_an_error(minicity: FareFeed, local: Local) -> None:
    with pytest.raises(FareError, match="not a pass"):
        pass_validity(minicity, "m_short", local(f"{MONDAY} 08:00"))


def test_daily_metro_cap(minicity: FareFeed, tap: TapMaker) -> None:
    rides = [metro(tap, "M_A", "M_C", f"{MONDAY} {hour:02d}:00") for hour in (7, 8, 9, 17, 18)]
    day = price_day(minicity, [t for ride in rides for t in ride])
    assert [leg.charged.amount for leg in day.legs] == [12000, 12000, 6000, 0, 0]
    assert [leg.capped for leg in day.legs] == [False, False, True, True, True]
    assert day.total.amount == 30000
    [cap] = day.caps_applied
    assert (cap.cap_id, cap.saved.amount, cap.limit.amount) == ("metro_day", 30000, 30000)
    assert day.cap_spend["metro_day"].amount == 30000


def test_all_network_cap_and_service_days(minicity: FareFeed, tap: TapMaker) -> None:
    rides = [metro(tap, "M_A", "M_C", f"{MONDAY} {hour:02d}:00") for hour in (7, 8, 9)]
    buses = [tap(B, "B9", "S1", f"{MONDAY} {hour:02d}:00") for hour in (12, 14)]
    # 03:30 on the 2nd still belongs to the 1st's service day; 05:00 is in the next one.
    night = [tap(B, "B9", "S1", "2025-09-02 03:30"), tap(B, "B9", "S1", "2025-09-02 05:00")]
    day = price_day(minicity, [*[t for r in rides for t in r], *buses, *night])
    assert [leg.charged.amount for leg in day.legs] == [12000, 12000, 6000, 20000, 0, 0, 20000]
    assert day.total.amount == 50000 + 20000


def test_monthly_cap_counts_earlier_spend(minicity: FareFeed, tap: TapMaker) -> None:
    taps = [tap(B, "B1", "S1", f"{MONDAY} 08:00"), tap(B, "B1", "S1", f"{MONDAY} 18:00")]
    spent = {"bus_month": Money(275_000, "VND")}
    day = price_day(minicity, taps, month_to_date=spent)
    assert [leg.charged.amount for leg in day.legs] == [5000, 0]
    assert day.cap_spend["bus_month"].amount == 5000


def test_a_leg_no_fare_covers_is_kept_at_zero_with_its_reason(
    minicity: FareFeed, tap: TapMaker
) -> None:
    taps = [
        *metro(tap, "M_A", "M_B", f"{MONDAY} 08:00"),
        tap(B, "Z9", "S1", f"{MONDAY} 09:00"),
        tap(B, "B1", "S1", f"{MONDAY} 10:00"),
    ]
    day = price_day(minicity, taps)
    assert [leg.route_id for leg in day.legs] == ["M1", "Z9", "B1"]
    assert [leg.charged.amount for leg in day.legs] == [8000, 0, 8000]
    assert day.total.amount == 16000
    unknown = day.legs[1]
    assert unknown.fare_product_id is None
    assert unknown.unpriced_reason == 'route "Z9" is not in the feed'
    assert [(u.index, u.journey_id, u.reason) for u in day.unpriced_legs] == [
        (1, unknown.journey_id, 'route "Z9" is not in the feed')
    ]
    assert day.priced_any
    assert day.as_json()["unpriced_legs"] == [
        {"index": 1, "journey_id": unknown.journey_id, "reason": 'route "Z9" is not in the feed'}
    ]
    # The same day without the unknown leg fingerprints differently from the day with it.
    assert day.fingerprint() != price_day(minicity, [taps[0], taps[1], taps[3]]).fingerprint()
    only_unknown = price_day(minicity, [taps[2]])
    assert not only_unknown.priced_any
    assert only_unknown.total.amount == 0


def test_a_day_without_unpriced_legs_keeps_its_fingerprint_scheme(
    minicity: FareFeed, tap: TapMaker
) -> None:
    # Recorded days are compared by fingerprint: adding unpriced legs to DayPrice must not
    # change the fingerprint of a day that has none (the value below was computed before).
    day = price_day(minicity, [tap(B, "B1", "S1", f"{MONDAY} 08:00", device="v", seq=1)])
    assert day.unpriced_legs == ()
    assert day.fingerprint() == FINGERPRINT_BEFORE_UNPRICED_LEGS


def test_price_day_refuses_mixed_accounts(minicity: FareFeed, tap: TapMaker) -> None:
    taps = [
        tap(B, "B1", "S1", f"{MONDAY} 08:00", account="a"),
        tap(B, "B1", "S1", f"{MONDAY} 09:00", account="b"),
    ]
    with pytest.raises(FareError, match="one account"):
        price_day(minicity, taps)


def test_quote_prices_stop_pairs(minicity: FareFeed, local: Local) -> None:
    day = quote(
        minicity,
        [
            QuoteLeg("B1", "S1", "S2", local(f"{MONDAY} 08:00")),
            QuoteLeg("M1", "M_A", "M_C", local(f"{MONDAY} 08:30"), local(f"{MONDAY} 08:50")),
        ],
        rider_category="student",
    )
    assert [leg.journey_id for leg in day.legs] == ["q1", "q2"]
    assert day.total.amount == 4000 + 6000 - 2000


def test_held_pass_outside_its_validity_covers_nothing(
    minicity: FareFeed, tap: TapMaker, local: Local
) -> None:
    expired = HeldPass("metro_day", local("2025-08-01 08:00"), local("2025-08-02 04:00"))
    assert charged(metro(tap, "M_A", "M_B", f"{MONDAY} 08:00"), minicity, passes=[expired]) == [
        8000
    ]


def test_fingerprint_ignores_time_zones_and_sees_every_field(
    minicity: FareFeed, tap: TapMaker
) -> None:
    day = price_day(
        minicity,
        [*metro(tap, "M_A", "M_B", f"{MONDAY} 08:00"), tap(B, "B1", "B_1", f"{MONDAY} 12:00")],
    )
    leg = day.legs[0]
    in_utc = replace(
        leg,
        departure=leg.departure.astimezone(UTC),
        arrival=leg.arrival.astimezone(UTC) if leg.arrival else None,
    )
    assert replace(day, legs=(in_utc, *day.legs[1:])).fingerprint() == day.fingerprint()

    later = leg.departure + timedelta(microseconds=1)
    changed_legs = [
        replace(leg, **{f.name: value})
        for f, value in zip(
            fields(leg),
            [
                "j",
                "r",
                "n",
                "a",
                "s1",
                "s2",
                later,
                None,
                leg.service_day + timedelta(days=1),
                "p",
                Money(1, "VND"),
                Money(1, "VND"),
                not leg.incomplete,
                not leg.pass_covered,
                not leg.capped,
                "pass",
                "xfer",
                not leg.joined,
                "why",
            ],
            strict=True,
        )
    ]
    variants = [replace(day, legs=(changed, *day.legs[1:])) for changed in changed_legs]
    variants += [
        replace(day, total=Money(day.total.amount + 1, "VND")),
        replace(day, legs=day.legs[::-1]),
        replace(day, cap_spend={"c": Money(1, "VND")}),
    ]
    prints = {variant.fingerprint() for variant in variants}
    assert len(prints) == len(variants)
    assert day.fingerprint() not in prints
