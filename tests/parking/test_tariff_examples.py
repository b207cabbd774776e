"""Every shipped tariff prices its published examples, across block edges, resets and windows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from parking.tariff import Tariff
from parking.tariff_files import load_tariff

H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def apds() -> Tariff:
    return load_tariff("apds-rate-table-5")


@pytest.fixture(scope="module")
def uk() -> Tariff:
    return load_tariff("uk-dtro")


@pytest.fixture(scope="module")
def car() -> Tariff:
    return load_tariff("hanoi-car")


@pytest.fixture(scope="module")
def motorbike() -> Tariff:
    return load_tariff("hanoi-motorbike")


# APDS Rate Table 5: up to 1 h 3.00, 2 h 3.00, 3 h 4.00, 4 h 4.50, 5 h 5.50, 6 h 6.50.
@pytest.mark.parametrize(
    ("stay", "cents"),
    [
        (M, 300),
        (H, 300),
        (H + S, 300),
        (2 * H, 300),
        (2 * H + S, 400),
        (3 * H, 400),
        (3 * H + M, 450),
        (4 * H, 450),
        (4 * H + M, 550),
        (5 * H, 550),
        (5 * H + M, 650),
        (6 * H, 650),
        (6 * H + S, 750),  # modelled continuation: 1.00 per started hour
        (8 * H, 850),
    ],
)
@pytest.mark.parametrize("vehicle", ["car", "motorbike"])
def test_apds_rate_table_5(apds: Tariff, stay: timedelta, cents: int, vehicle: str) -> None:
    entry = at("2026-03-02T09:00:00+01:00")
    quoted = apds.quote(vehicle, entry, entry + stay)
    assert (quoted.amount, quoted.currency) == (cents, "EUR")


def test_apds_has_no_reset_so_midnight_does_not_split(apds: Tariff) -> None:
    quoted = apds.quote("car", at("2026-03-02T23:00:00+01:00"), at("2026-03-03T01:00:00+01:00"))
    assert quoted.amount == 300
    assert len(quoted.segments) == 1


@pytest.mark.parametrize(
    ("stay", "pence"),
    [(M, 200), (H, 200), (H + S, 400), (4 * H + M, 1000), (5 * H, 1000), (12 * H, 1000)],
)
def test_uk_per_started_hour_capped_per_period(uk: Tariff, stay: timedelta, pence: int) -> None:
    entry = at("2026-06-10T09:00:00+01:00")
    assert uk.quote("car", entry, entry + stay).amount == pence


def test_uk_stay_across_the_0200_reset_is_two_segments(uk: Tariff) -> None:
    quoted = uk.quote("car", at("2026-06-10T01:30:00+01:00"), at("2026-06-10T02:30:00+01:00"))
    assert quoted.amount == 400
    assert [s.amount for s in quoted.segments] == [200, 200]
    assert [str(s.period) for s in quoted.segments] == ["2026-06-09", "2026-06-10"]
    assert quoted.segments[0].end == at("2026-06-10T02:00:00+01:00")


def test_uk_long_stay_is_capped_in_each_period(uk: Tariff) -> None:
    # 09:00 to 03:10 next day: 17 h in the first period (capped at 10.00), 1 h 10 in the next.
    quoted = uk.quote("car", at("2026-06-10T09:00:00+01:00"), at("2026-06-11T03:10:00+01:00"))
    assert quoted.amount == 1000 + 400
    assert [(s.amount, s.capped) for s in quoted.segments] == [(1000, True), (400, False)]


def test_uk_json_shape(uk: Tariff) -> None:
    body = uk.quote("car", at("2026-06-10T01:30+01:00"), at("2026-06-10T02:30+01:00")).as_json()
    assert body["amount"] == 400
    assert body["currency"] == "GBP"
    assert sum(item["amount"] for item in body["breakdown"]) == body["amount"]


@pytest.mark.parametrize(
    ("entry", "exit", "vnd"),
    [
        ("2026-11-30T08:00", "2026-11-30T08:01", 25_000),
        ("2026-11-30T08:00", "2026-11-30T10:00", 25_000),  # one 2-hour turn
        ("2026-11-30T08:00", "2026-11-30T10:01", 60_000),  # dearer from the third hour
        ("2026-11-30T08:00", "2026-11-30T12:00", 60_000),
        ("2026-11-30T08:00", "2026-11-30T12:01", 105_000),
        ("2026-11-30T08:00", "2026-11-30T14:00", 105_000),
        ("2026-11-30T06:00", "2026-11-30T18:00", 240_000),  # the whole day window
        ("2026-11-30T18:00", "2026-12-01T06:00", 150_000),  # overnight: 6 turns
        ("2026-11-30T20:00", "2026-11-30T21:00", 150_000),
        ("2026-11-30T17:00", "2026-12-01T07:00", 25_000 + 150_000 + 25_000),
        ("2026-11-30T16:30", "2026-11-30T18:00", 25_000),  # window edge: no night yet
    ],
)
def test_hanoi_car(car: Tariff, entry: str, exit: str, vnd: int) -> None:
    quoted = car.quote("car", at(entry + "+07:00"), at(exit + "+07:00"))
    assert (quoted.amount, quoted.currency) == (vnd, "VND")


def test_hanoi_car_night_window_is_one_segment_across_midnight(car: Tariff) -> None:
    quoted = car.quote("car", at("2026-11-30T17:00+07:00"), at("2026-12-01T07:00+07:00"))
    assert [(s.rate, s.amount) for s in quoted.segments] == [
        ("day turn", 25_000),
        ("overnight (6 turns)", 150_000),
        ("day turn", 25_000),
    ]


def test_hanoi_car_in_utc_prices_in_hanoi_time(car: Tariff) -> None:
    # 01:00Z is 08:00 in Hanoi: a day turn, not the night.
    assert car.quote("car", at("2026-11-30T01:00Z"), at("2026-11-30T02:00Z")).amount == 25_000


@pytest.mark.parametrize(
    ("entry", "exit", "vnd"),
    [
        ("2026-11-30T08:00", "2026-11-30T17:59", 5_000),
        ("2026-11-30T19:00", "2026-11-30T23:00", 8_000),
        ("2026-11-30T17:00", "2026-11-30T19:00", 13_000),
        ("2026-11-30T17:00", "2026-12-01T07:00", 5_000 + 8_000 + 5_000),
    ],
)
def test_hanoi_motorbike(motorbike: Tariff, entry: str, exit: str, vnd: int) -> None:
    assert motorbike.quote("motorbike", at(entry + "+07:00"), at(exit + "+07:00")).amount == vnd


def test_zero_length_stay_costs_nothing(car: Tariff) -> None:
    entry = at("2026-11-30T08:00+07:00")
    assert car.quote("car", entry, entry).amount == 0
