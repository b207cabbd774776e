"""Properties of every tariff, shipped or random: monotone, capped per period, free minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from parking.tariff import (
    ALL_DAYS,
    WEEKDAYS,
    Block,
    Period,
    RateTable,
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
