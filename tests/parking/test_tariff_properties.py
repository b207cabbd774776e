"""Properties of every tariff, shipped or random: monotone, capped per period, free minutes;
and the quote of a long stay (weeks counted, not walked) is the minute-by-minute walk's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parking.tariff import (
    ALL_DAYS,
    HOLIDAY,
    WEEKDAYS,
    Block,
    Period,
    RateTable,
    Segment,
    Tariff,
    Tier,
)
from parking.tariff_files import load_tariff, shipped_tariff_names

SHIPPED = [load_tariff(name) for name in shipped_tariff_names()]
ZONES = [ZoneInfo("Asia/Ho_Chi_Minh"), ZoneInfo("Europe/London"), ZoneInfo("America/New_York")]

entries = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
stays = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5))
amounts = st.integers(min_value=0, max_value=50_000)


@st.composite
def blocks(draw: st.DrawFn) -> tuple[Block, ...]:
    count = draw(st.integers(min_value=1, max_value=4))
    edges = sorted(draw(st.sets(st.integers(1, 24 * 60), min_size=count, max_size=count)))
    starts = [0, *edges[:-1]]
    ends: list[int | None] = [*edges[:-1], draw(st.sampled_from([None, edges[-1]]))]
    made = []
    for start, end in zip(starts, ends, strict=True):
        kinds = ["flat", "incrementing"] + (["tiered"] if end is not None else [])
        kind = draw(st.sampled_from(kinds))
        bounds = sorted(draw(st.lists(amounts, min_size=2, max_size=2)))
        minimum = draw(st.sampled_from([None, bounds[0]]))
        maximum = draw(st.sampled_from([None, bounds[1]]))
        if kind == "tiered":
            assert end is not None
            length = end - start
            ups = sorted(draw(st.sets(st.integers(1, length), max_size=3)) | {length})
            totals = sorted(draw(st.lists(amounts, min_size=len(ups), max_size=len(ups))))
            tiers = tuple(Tier(up_to_minutes=u, amount=a) for u, a in zip(ups, totals, strict=True))
            made.append(
                Block(
                    kind="tiered",
                    start_minute=start,
                    end_minute=end,
                    tiers=tiers,
                    minimum=minimum,
                    maximum=maximum,
                )
            )
        else:
            made.append(
                Block(
                    kind=kind,
                    start_minute=start,
                    end_minute=end,
                    amount=draw(amounts),
                    unit_minutes=draw(st.integers(1, 180)),
                    minimum=minimum,
                    maximum=maximum,
                )
            )
    return tuple(made)


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    rates = []
    for index in range(draw(st.integers(1, 3))):
        start, end = draw(st.sampled_from([(0, 1440), (360, 1080), (1080, 360), (480, 1200)]))
        days = draw(st.sampled_from([ALL_DAYS, frozenset(WEEKDAYS[:5]), frozenset({"sat"})]))
        rates.append(
            RateTable(
                name=f"r{index}",
                vehicles=frozenset({"car"}),
                days=days,
                start_minute=start,
                end_minute=end,
                blocks=draw(blocks()),
            )
        )
    period = draw(
        st.one_of(
            st.none(),
            st.builds(
                Period,
                reset_minute=st.integers(0, 1439),
                maximum=st.one_of(st.none(), st.integers(1, 100_000)),
            ),
        )
    )
    return Tariff(
        id="random",
        name="random",
        currency="EUR",
        timezone=draw(st.sampled_from(ZONES)),
        rates=tuple(rates),
        period=period,
        holidays=frozenset({datetime(2026, 12, 25).date()}),
        free_minutes=draw(st.integers(0, 30)),
    )


any_tariff = st.one_of(st.sampled_from(SHIPPED), tariffs())


def vehicle_of(tariff: Tariff) -> str:
    return sorted(tariff.vehicle_classes)[0]


@settings(max_examples=300, deadline=None)
@given(any_tariff, entries, stays, stays)
def test_fee_never_decreases_as_the_stay_grows(
    tariff: Tariff, entry: datetime, stay: timedelta, more: timedelta
) -> None:
    vehicle = vehicle_of(tariff)
    shorter = tariff.quote(vehicle, entry, entry + stay).amount
    longer = tariff.quote(vehicle, entry, entry + stay + more).amount
    assert shorter <= longer


def periods_touched(tariff: Tariff, entry: datetime, exit: datetime) -> int:
    assert tariff.period is not None
    reset = timedelta(minutes=tariff.period.reset_minute)

    def period_of(at: datetime) -> datetime:
        local = at.astimezone(tariff.timezone).replace(tzinfo=None)
        return (local - reset).replace(hour=0, minute=0, second=0, microsecond=0)

    last = exit - timedelta(microseconds=1) if exit > entry else exit
    return (period_of(last) - period_of(entry)).days + 1


@settings(max_examples=300, deadline=None)
@given(any_tariff, entries, stays)
def test_fee_never_exceeds_the_period_maximum_times_periods_touched(
    tariff: Tariff, entry: datetime, stay: timedelta
) -> None:
    quoted = tariff.quote(vehicle_of(tariff), entry, entry + stay)
    assert quoted.amount == sum(segment.amount for segment in quoted.segments)
    if tariff.period is None or tariff.period.maximum is None:
        return
    assert quoted.amount <= tariff.period.maximum * periods_touched(tariff, entry, entry + stay)


@settings(max_examples=200, deadline=None)
@given(tariffs(), entries, st.data())
def test_a_stay_within_the_free_minutes_costs_nothing(
    tariff: Tariff, entry: datetime, data: st.DataObject
) -> None:
    stay = data.draw(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=tariff.free_minutes))
    )
    assert tariff.quote("car", entry, entry + stay).amount == 0


@given(entries, stays)
def test_uk_fee_is_capped_per_period(entry: datetime, stay: timedelta) -> None:
    uk = load_tariff("uk-dtro")
    assert uk.quote("car", entry, entry + stay).amount <= 1000 * periods_touched(
        uk, entry, entry + stay
    )


# --- long stays: the closed form against the minute-by-minute walk ----------------------

MINUTE = timedelta(minutes=1)
_Label = tuple[int | None, date | None, date | None]


def _minute_label(tariff: Tariff, vehicle: str, at: datetime) -> _Label:
    """Which table occurrence and period the local minute `at` falls in (docs/PARKING.md)."""
    day, minute = at.date(), at.hour * 60 + at.minute
    period = None
    if tariff.period is not None:
        period = day if minute >= tariff.period.reset_minute else day - timedelta(days=1)

    def applies(rate: RateTable, on: date) -> bool:
        return (HOLIDAY if on in tariff.holidays else WEEKDAYS[on.weekday()]) in rate.days

    for index, rate in enumerate(tariff.rates):
        if vehicle not in rate.vehicles:
            continue
        if rate.start_minute < rate.end_minute:
            if rate.start_minute <= minute < rate.end_minute and applies(rate, day):
                whole_day = rate.end_minute - rate.start_minute == 24 * 60
                return index, None if whole_day else day, period
        elif minute >= rate.start_minute and applies(rate, day):
            return index, day, period
        elif minute < rate.end_minute and applies(rate, day - timedelta(days=1)):
            return index, day - timedelta(days=1), period
    return None, None, period


def minute_walk(tariff: Tariff, vehicle: str, entry: datetime, exit: datetime) -> list[Segment]:
    """The segments the slow way: each local minute's label, equal neighbours made one
    segment, each priced by its length and capped in order within its period. For stays
    that start on a whole minute and outlast the free minutes."""
    at, end = entry.astimezone(tariff.timezone), exit.astimezone(tariff.timezone)
    runs: list[tuple[datetime, datetime, _Label]] = []
    while at < end:
        label, step = _minute_label(tariff, vehicle, at), min(at + MINUTE, end)
        if runs and runs[-1][2] == label:
            runs[-1] = (runs[-1][0], step, label)
        else:
            runs.append((at, step, label))
        at = step
    maximum = None if tariff.period is None else tariff.period.maximum
    spent: dict[date | None, int] = {}
    segments = []
    for start, stop, (table, _, period) in runs:
        rate = None if table is None else tariff.rates[table]
        price = 0 if rate is None else rate.price((stop - start) // timedelta(microseconds=1))
        amount = price if maximum is None else min(price, maximum - spent.get(period, 0))
        spent[period] = spent.get(period, 0) + amount
        segments.append(
            Segment(
                start=start,
                end=stop,
                rate=None if rate is None else rate.name,
                period=period,
                amount=amount,
                capped=amount != price,
            )
        )
    return segments


def _listed(segments: object) -> list[tuple[str, str, str | None, date | None, int, bool]]:
    assert isinstance(segments, list)
    return [
        (s.start.isoformat(), s.end.isoformat(), s.rate, s.period, s.amount, s.capped)
        for s in segments
    ]


whole_minute_entries = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 3, 1), timezones=st.just(UTC)
).map(lambda at: at.replace(second=0, microsecond=0))
long_stays = st.integers(min_value=15 * 24 * 60, max_value=32 * 24 * 60).map(
    lambda minutes: timedelta(minutes=minutes)
)
holiday_sets = st.frozensets(st.dates(date(2026, 1, 1), date(2026, 4, 5)), max_size=4)


@settings(max_examples=30, deadline=None)
@given(any_tariff, holiday_sets, whole_minute_entries, long_stays)
def test_a_long_stay_is_priced_as_the_minute_walk_prices_it(
    tariff: Tariff, holidays: frozenset[date], entry: datetime, stay: timedelta
) -> None:
    tariff = replace(tariff, holidays=holidays)
    vehicle = vehicle_of(tariff)
    quoted = tariff.quote(vehicle, entry, entry + stay)
    walked = minute_walk(tariff, vehicle, entry, entry + stay)
    assert _listed(list(quoted.every_segment())) == _listed(walked)
    assert quoted.amount == sum(segment.amount for segment in walked)


def _made(name: str, *rates: tuple[int, int, frozenset[str]]) -> Tariff:
    """A tariff without periods whose tables each charge 100 per started hour."""
    hourly = (Block(kind="incrementing", start_minute=0, end_minute=None, amount=100,
                    unit_minutes=60),)  # fmt: skip
    return Tariff(
        id=name,
        name=name,
        currency="EUR",
        timezone=ZoneInfo("Europe/London"),
        rates=tuple(
            RateTable(
                name=f"{name} {index}",
                vehicles=frozenset({"car"}),
                days=days,
                start_minute=start,
                end_minute=end,
                blocks=hourly,
            )
            for index, (start, end, days) in enumerate(rates)
        ),
    )


WORKDAYS = frozenset(WEEKDAYS[:5])
# Shapes the shipped tariffs lack: no period, segments starting at midnight only, a table for
# holidays alone over an all-week one (one label except near holidays), a night table alone.
MADE = [
    _made("workdays", (0, 24 * 60, WORKDAYS)),
    _made("holidays-apart", (0, 24 * 60, frozenset({HOLIDAY})), (0, 24 * 60, ALL_DAYS)),
    _made("nights", (18 * 60, 6 * 60, ALL_DAYS)),
    _made("saturday-days", (8 * 60, 20 * 60, frozenset({"sat"}))),
]


@pytest.mark.parametrize("tariff", SHIPPED + MADE, ids=[t.id for t in SHIPPED + MADE])
def test_weeks_between_holidays_are_counted_not_listed(tariff: Tariff) -> None:
    """Twelve weeks around two holidays: the weeks before, between and after them each
    repeat, and written out they are the minute walk's segments."""
    tariff = replace(tariff, holidays=frozenset({date(2026, 2, 3), date(2026, 3, 5)}))
    vehicle = vehicle_of(tariff)
    entry = datetime(2026, 1, 5, 9, 41, tzinfo=UTC)
    exit = entry + timedelta(weeks=12, minutes=17)
    quoted = tariff.quote(vehicle, entry, exit)
    assert _listed(list(quoted.every_segment())) == _listed(
        minute_walk(tariff, vehicle, entry, exit)
    )
    if tariff.id in ("apds-rate-table-5", "holidays-apart"):
        # One label all week: a segment from entry to exit, or cut only at the holidays.
        assert len(quoted.segments) == {"apds-rate-table-5": 1, "holidays-apart": 5}[tariff.id]
        return
    assert len(quoted.repeats) == 3  # before, between and after the holidays
    assert all(repeat.times >= 2 for repeat in quoted.repeats)
    assert len(quoted.segments) < len(list(quoted.every_segment()))


@pytest.mark.parametrize("tariff", SHIPPED, ids=[tariff.id for tariff in SHIPPED])
def test_a_stay_from_1970_to_8999_is_priced(tariff: Tariff) -> None:
    """It walked every day of 7,030 years before (minutes of CPU, gigabytes of segments)."""
    entry = datetime(1970, 1, 1, tzinfo=UTC)
    exit = datetime(8999, 12, 31, 23, 59, tzinfo=UTC)
    quoted = tariff.quote(vehicle_of(tariff), entry, exit)
    assert len(quoted.segments) < 50
    if tariff.id == "apds-rate-table-5":  # one segment: 650 for 6 hours, 100 each hour after
        local = quoted.exit.replace(tzinfo=None) - quoted.entry.replace(tzinfo=None)
        hours_after = -(-(local - timedelta(hours=6)) // timedelta(hours=1))
        assert quoted.amount == 650 + 100 * hours_after
    else:
        assert quoted.repeats[0].times > 366_000
