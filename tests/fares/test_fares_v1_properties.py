"""Properties of Fares v1 pricing over generated feeds and legs (hypothesis).

Feeds: two agencies, four routes, fares with random route rules (or none: valid everywhere), an
agency or not, transfers 0/1/2/unlimited and a transfer_duration or none. The rules are by route:
under the reference's zone rules a run is priced from its first origin to its last destination
zone, so a round trip can cost less than its outward leg (docs/FARES.md), and "adding a leg
never lowers the total" holds only for fares whose rules do not depend on where a run ends.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.fares import FareFeed, QuoteLeg, load_feed, quote

ROUTES = ("r0", "r1", "r2", "r3")
AGENCY_OF = {"r0": "a", "r1": "a", "r2": "b", "r3": "b"}
STOPS = ("s0", "s1", "s2")
START = datetime(2025, 9, 1, 5, 0, tzinfo=ZoneInfo("America/New_York"))


@st.composite
def fares(draw: st.DrawFn) -> list[tuple[str, int, str | None, int | None, int | None, list[str]]]:
    """(fare_id, cents, agency, transfers, transfer_duration, routes) rows."""
    rows = []
    for number in range(draw(st.integers(1, 5))):
        rows.append(
            (
                f"f{number}",
                draw(st.integers(0, 900)),
                draw(st.sampled_from([None, "a", "b"])),
                draw(st.sampled_from([None, 0, 1, 2])),
                draw(st.sampled_from([None, 600, 3600, 7200])),
                draw(st.lists(st.sampled_from(ROUTES), unique=True, max_size=3)),
            )
        )
    return rows


def write_feed(
    folder: Path, rows: list[tuple[str, int, str | None, int | None, int | None, list[str]]]
) -> FareFeed:
    files = {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
        "a,A,https://a.example,America/New_York\nb,B,https://b.example,America/New_York\n",
        "routes.txt": "route_id,agency_id,route_type\n"
        + "".join(f"{route},{AGENCY_OF[route]},3\n" for route in ROUTES),
        "stops.txt": "stop_id,zone_id\n" + "".join(f"{stop},z{stop}\n" for stop in STOPS),
        "fare_attributes.txt": "fare_id,price,currency_type,payment_method,transfers,"
        "transfer_duration,agency_id\n"
        + "".join(
            f"{fare_id},{cents / 100:.2f},USD,0,{'' if transfers is None else transfers},"
            f"{'' if duration is None else duration},{agency or ''}\n"
            for fare_id, cents, agency, transfers, duration, _ in rows
        ),
        "fare_rules.txt": "fare_id,route_id\n"
        + "".join(f"{fare_id},{route}\n" for fare_id, *_, routes in rows for route in routes),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return load_feed(folder)


legs = st.lists(
    st.tuples(
        st.sampled_from(ROUTES),
        st.sampled_from(STOPS),
        st.sampled_from(STOPS),
        st.integers(0, 18 * 60),
    ),
    max_size=8,
)


def quote_legs(rows: list[tuple[str, str, str, int]]) -> list[QuoteLeg]:
    return [
        QuoteLeg(route, origin, destination, START + timedelta(minutes=minute))
        for route, origin, destination, minute in rows
    ]


@settings(max_examples=200, deadline=None)
@given(
    fares(),
    legs,
    st.tuples(
        st.sampled_from(ROUTES),
        st.sampled_from(STOPS),
        st.sampled_from(STOPS),
        st.integers(0, 18 * 60),
    ),
)
def test_adding_a_leg_never_lowers_the_days_total(
    rows: list[tuple[str, int, str | None, int | None, int | None, list[str]]],
    day: list[tuple[str, str, str, int]],
    extra: tuple[str, str, str, int],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        feed = write_feed(Path(folder), rows)
    before = quote(feed, quote_legs(day))
    after = quote(feed, quote_legs([*day, extra]))
    assert after.total.amount >= before.total.amount
    assert len(after.unpriced_legs) >= len(before.unpriced_legs)
    assert after.total.amount == sum(leg.charged.amount for leg in after.legs)


@settings(max_examples=200, deadline=None)
@given(fares(), legs.filter(bool), st.integers(0, 900))
def test_an_unlimited_long_fare_covering_every_leg_prices_the_day_at_that_fare(
    rows: list[tuple[str, int, str | None, int | None, int | None, list[str]]],
    day: list[tuple[str, str, str, int]],
    cents: int,
) -> None:
    everywhere = ("all", cents, None, None, 2 * 86400, [])
    with tempfile.TemporaryDirectory() as folder:
        feed = write_feed(Path(folder), [*rows, everywhere])
    priced = quote(feed, quote_legs(day))
    assert priced.unpriced_legs == ()
    assert priced.total.amount <= cents
    if all(row[1] >= cents for row in rows):
        # No fare is cheaper: one fare for the whole day is the cheapest cover.
        assert priced.total.amount == cents
    if all(row[1] > cents for row in rows):
        assert {leg.fare_product_id for leg in priced.legs} == {"all"}
        assert [leg.charged.amount for leg in priced.legs] == [cents] + [0] * (len(day) - 1)
