"""Properties of Fares v1 pricing over generated feeds and legs (hypothesis).

Feeds: two agencies, four routes, five stops (four in zones z0..z3, one in none), trips on two
routes calling at s0..s3 (so a ride passes through the zones in between), and fares with an
agency or not, transfers 0/1/2/unlimited, a transfer_duration or none, and rules of any mix of
route_id, origin_id, destination_id and contains_id (or none: valid everywhere).

Adding a leg that departs after every other never lowers the day's total, on any such feed:
the prefix rule (docs/FARES.md) makes the cover of n + 1 legs, cut back to n, a cover of the
n legs at no higher cost. A leg inserted earlier in the day keeps that property unless it
starts a run priced by origin_id or completes a contains_id set; on feeds without those two
fields it holds wherever the leg goes. The two exceptions are examples below.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ticketing.fares import DayPrice, FareFeed, QuoteLeg, load_feed, quote

ROUTES = ("r0", "r1", "r2", "r3")
AGENCY_OF = {"r0": "a", "r1": "a", "r2": "b", "r3": "b"}
STOPS = ("s0", "s1", "s2", "s3", "s4")
ZONE_OF = {"s0": "z0", "s1": "z1", "s2": "z2", "s3": "z3", "s4": ""}
ZONES = ("z0", "z1", "z2", "z3")
START = datetime(2025, 9, 1, 5, 0, tzinfo=ZoneInfo("America/New_York"))

# (route_id, origin_id, destination_id, contains_id), each possibly empty
Rule = tuple[str | None, str | None, str | None, str | None]
# (fare_id, cents, agency, transfers, transfer_duration, rules)
Fare = tuple[str, int, str | None, int | None, int | None, list[Rule]]
# (route, from stop, to stop, minutes after 05:00)
Leg = tuple[str, str, str, int]


def fare_rows(*, origins_and_contains: bool) -> st.SearchStrategy[list[Fare]]:
    zone = st.one_of(st.none(), st.sampled_from(ZONES))
    anywhere = zone if origins_and_contains else st.none()
    rule = st.tuples(st.one_of(st.none(), st.sampled_from(ROUTES)), anywhere, zone, anywhere)

    @st.composite
    def rows(draw: st.DrawFn) -> list[Fare]:
        return [
            (
                f"f{number}",
                draw(st.integers(0, 900)),
                draw(st.sampled_from([None, "a", "b"])),
                draw(st.sampled_from([None, 0, 1, 2])),
                draw(st.sampled_from([None, 600, 3600, 7200])),
                draw(st.lists(rule, max_size=4)),
            )
            for number in range(draw(st.integers(1, 5)))
        ]

    return rows()


def write_feed(folder: Path, rows: list[Fare]) -> FareFeed:
    def cell(value: object) -> str:
        return "" if value is None else str(value)

    files = {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
        "a,A,https://a.example,America/New_York\nb,B,https://b.example,America/New_York\n",
        "routes.txt": "route_id,agency_id,route_type\n"
        + "".join(f"{route},{AGENCY_OF[route]},3\n" for route in ROUTES),
        "stops.txt": "stop_id,zone_id\n" + "".join(f"{s},{z}\n" for s, z in ZONE_OF.items()),
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
        "start_date,end_date\nall,1,1,1,1,1,1,1,20250101,20251231\n",
        "trips.txt": "route_id,service_id,trip_id\nr0,all,up\nr0,all,down\nr2,all,along\n",
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        + "".join(
            f"{trip},08:0{number}:00,08:0{number}:00,{stop},{number + 1}\n"
            for trip, stops in (
                ("up", STOPS[:4]),
                ("down", STOPS[3::-1]),
                ("along", STOPS[:4]),
            )
            for number, stop in enumerate(stops)
        ),
        "fare_attributes.txt": "fare_id,price,currency_type,payment_method,transfers,"
        "transfer_duration,agency_id\n"
        + "".join(
            f"{fare_id},{cents / 100:.2f},USD,0,{cell(transfers)},{cell(duration)},{cell(agency)}\n"
            for fare_id, cents, agency, transfers, duration, _ in rows
        ),
        "fare_rules.txt": "fare_id,route_id,origin_id,destination_id,contains_id\n"
        + "".join(
            f"{fare_id},{','.join(cell(field) for field in rule)}\n"
            for fare_id, *_, rules in rows
            for rule in rules
        ),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return load_feed(folder)


leg = st.tuples(
    st.sampled_from(ROUTES),
    st.sampled_from(STOPS),
    st.sampled_from(STOPS),
    st.integers(0, 18 * 60),
)
legs = st.lists(leg, max_size=8)


def day_of(feed: FareFeed, rows: list[Leg]) -> DayPrice:
    return quote(
        feed,
        [
            QuoteLeg(route, origin, destination, START + timedelta(minutes=minute))
            for route, origin, destination, minute in rows
        ],
    )


def check_adding(rows: list[Fare], day: list[Leg], extra: Leg) -> None:
    with tempfile.TemporaryDirectory() as folder:
        feed = write_feed(Path(folder), rows)
    before = day_of(feed, day)
    after = day_of(feed, [*day, extra])
    assert after.total.amount >= before.total.amount
    # (A later leg may leave fewer legs unpriced: a fare can cover a run whose first leg no
    # fare covers alone.)
    assert after.total.amount == sum(leg.charged.amount for leg in after.legs)


# A round trip from zone 0 back to zone 0 on a cheap 0 -> 0 fare with transfers.
ROUND_TRIP: list[Fare] = [
    ("out", 500, None, 0, None, [(None, "z0", "z1", None)]),
    ("home", 100, None, None, 3600, [(None, "z0", "z0", None), (None, "z1", "z0", None)]),
]


@settings(max_examples=300, deadline=None)
@given(fare_rows(origins_and_contains=True), legs, leg)
@example(ROUND_TRIP, [("r1", "s0", "s1", 0)], ("r1", "s1", "s0", 30))
def test_adding_a_leg_after_the_others_never_lowers_the_days_total(
    rows: list[Fare], day: list[Leg], extra: Leg
) -> None:
    route, origin, destination, minute = extra
    last = max((minute for *_, minute in day), default=0)
    check_adding(rows, day, (route, origin, destination, last + minute % 240 + 1))


@settings(max_examples=300, deadline=None)
@given(fare_rows(origins_and_contains=False), legs, leg)
def test_without_origin_or_contains_rules_a_leg_added_anywhere_never_lowers_the_total(
    rows: list[Fare], day: list[Leg], extra: Leg
) -> None:
    check_adding(rows, day, extra)


@settings(max_examples=300, deadline=None)
@given(fare_rows(origins_and_contains=True), legs)
@example(ROUND_TRIP, [("r1", "s0", "s1", 0), ("r1", "s1", "s0", 30)])
def test_a_run_costs_at_least_the_day_of_its_legs_but_the_last(
    rows: list[Fare], day: list[Leg]
) -> None:
    # The prefix rule, seen from outside: each run of two legs or more is charged no less than
    # the same legs without the last would cost as a day of their own.
    with tempfile.TemporaryDirectory() as folder:
        feed = write_feed(Path(folder), rows)
    priced = day_of(feed, day)
    runs: list[list[tuple[int, int]]] = []  # (position in `day`, amount charged) per run
    for item in priced.legs:
        source = (int(item.journey_id.removeprefix("q")) - 1, item.charged.amount)
        if item.transfer_product_id is None:
            runs.append([source])
        else:
            runs[-1].append(source)
    for run in runs:
        if len(run) > 1:
            leading = day_of(feed, [day[position] for position, _ in run[:-1]])
            assert leading.total.amount <= sum(amount for _, amount in run)


@settings(max_examples=200, deadline=None)
@given(fare_rows(origins_and_contains=True), legs.filter(bool), st.integers(0, 900))
def test_an_unlimited_long_fare_covering_every_leg_prices_the_day_at_that_fare(
    rows: list[Fare], day: list[Leg], cents: int
) -> None:
    everywhere: Fare = ("all", cents, None, None, 2 * 86400, [])
    with tempfile.TemporaryDirectory() as folder:
        feed = write_feed(Path(folder), [*rows, everywhere])
    priced = day_of(feed, day)
    assert priced.unpriced_legs == ()
    assert priced.total.amount <= cents * len(day)
    if all(row[1] >= cents for row in rows):
        # No fare is cheaper: one fare for the whole day is the cheapest cover.
        assert priced.total.amount == cents
    if all(row[1] > cents for row in rows):
        assert {leg.fare_product_id for leg in priced.legs} == {"all"}
        assert [leg.charged.amount for leg in priced.legs] == [cents] + [0] * (len(day) - 1)


def test_a_round_trip_on_a_fare_cheaper_than_going_out_is_two_fares(
    tmp_path: Path,
) -> None:
    feed = write_feed(tmp_path, ROUND_TRIP)
    out, back = ("r1", "s0", "s1", 0), ("r1", "s1", "s0", 30)
    day = day_of(feed, [out, back])
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("out", 500),
        ("home", 100),
    ]


def test_a_leg_starting_a_run_priced_by_its_origin_can_lower_the_total(tmp_path: Path) -> None:
    # f0: from zone 0 to anywhere, with transfers; f1: the only fare within zone 1. Riding
    # z0 -> z1 before z1 -> z1 makes one journey from zone 0: the feed prices a journey by where
    # it starts, and f0 is valid for it at every point. Documented in docs/FARES.md.
    rows: list[Fare] = [
        ("f0", 100, None, None, 3600, [(None, "z0", None, None)]),
        ("f1", 1000, None, 0, None, [(None, "z1", "z1", None)]),
    ]
    feed = write_feed(tmp_path, rows)
    assert day_of(feed, [("r1", "s1", "s1", 10)]).total.amount == 1000
    assert day_of(feed, [("r1", "s0", "s1", 0), ("r1", "s1", "s1", 10)]).total.amount == 100


def test_a_leg_completing_a_contains_set_can_lower_the_total(tmp_path: Path) -> None:
    # f0 covers journeys ending in z1 through exactly z0, z1; ending in z2 through exactly
    # z0..z2; ending in z3 through exactly z0..z3 (r1 has no trips: a ride visits its two
    # stops' zones). z0 -> z1 then z3 -> z3 visits z0, z1, z3: no f0 set, so the second ride is
    # f1. A ride in z2 between them completes z0..z3, and f0 covers all three (each leading
    # part too). contains_id matches the zones passed exactly. Documented in docs/FARES.md.
    rules: list[Rule] = [
        (None, None, f"z{end}", f"z{zone}") for end in (1, 2, 3) for zone in range(end + 1)
    ]
    rows: list[Fare] = [
        ("f0", 100, None, None, 3600, rules),
        ("f1", 1000, None, 0, None, [("r1", None, None, None)]),
    ]
    feed = write_feed(tmp_path, rows)
    first, last = ("r1", "s0", "s1", 0), ("r1", "s3", "s3", 20)
    assert day_of(feed, [first, last]).total.amount == 100 + 1000
    day = day_of(feed, [first, ("r1", "s2", "s2", 10), last])
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("f0", 100),
        ("f0", 0),
        ("f0", 0),
    ]
