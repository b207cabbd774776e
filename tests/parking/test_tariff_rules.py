"""The tariff model's rules on small hand-written tariffs: windows, days, holidays, blocks."""

from __future__ import annotations

from datetime import datetime

import pytest

from parking.errors import QuoteError, UnknownVehicleClass
from parking.tariff import Tariff
from parking.tariff_files import parse_tariff

# Weekdays 08:00-18:00: 1.00 per started 30 min, at least 1.50 and at most 6.00 in the block;
# Saturdays and holidays a flat 5.00 all day; Sundays free. Cars only. 10 free minutes.
CITY = """
id = "city"
name = "City centre"
currency = "EUR"
timezone = "Europe/Paris"
vehicles = ["car"]
free_minutes = 10
holidays = [2026-07-14]

[[rates]]
name = "weekday"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:00"
end = "18:00"
  [[rates.blocks]]
  type = "incrementing"
  from = 0
  unit = 30
  amount = 100
  minimum = 150
  maximum = 600

[[rates]]
name = "saturday or holiday"
days = ["sat", "holiday"]
  [[rates.blocks]]
  type = "flat"
  amount = 500
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+02:00")


@pytest.fixture(scope="module")
def city() -> Tariff:
    return parse_tariff(CITY, source="city.toml")


@pytest.mark.parametrize(
    ("entry", "exit", "cents"),
    [
        ("2026-07-13T09:00", "2026-07-13T09:10", 0),  # Monday, within the free minutes
        ("2026-07-13T09:00", "2026-07-13T09:11", 150),  # one unit, raised to the minimum
        ("2026-07-13T09:00", "2026-07-13T10:00", 200),
        ("2026-07-13T09:00", "2026-07-13T10:01", 300),
        ("2026-07-13T09:00", "2026-07-13T17:00", 600),  # block maximum
        ("2026-07-13T07:00", "2026-07-13T08:00", 0),  # before the window: free
        ("2026-07-13T17:30", "2026-07-13T20:00", 150),  # only 17:30-18:00 is charged
        ("2026-07-14T09:00", "2026-07-14T10:00", 500),  # Tuesday, but a holiday
        ("2026-07-18T09:00", "2026-07-18T23:00", 500),  # Saturday
        ("2026-07-19T09:00", "2026-07-19T20:00", 0),  # Sunday: no rate applies
        ("2026-07-17T17:00", "2026-07-19T12:00", 200 + 500),  # Friday evening to Sunday
    ],
)
def test_city_rules(city: Tariff, entry: str, exit: str, cents: int) -> None:
    assert city.quote("car", at(entry), at(exit)).amount == cents


def test_free_minutes_quote_says_so(city: Tariff) -> None:
    quoted = city.quote("car", at("2026-07-13T09:00"), at("2026-07-13T09:05"))
    assert quoted.free_minutes_applied
    assert quoted.as_json()["breakdown"][0]["rate"] == "free minutes"


def test_a_window_split_is_in_the_breakdown(city: Tariff) -> None:
    quoted = city.quote("car", at("2026-07-13T17:30"), at("2026-07-13T20:00"))
    assert [(s.rate, s.amount) for s in quoted.segments] == [("weekday", 150), (None, 0)]


def test_tariff_not_telling_classes_apart_prices_both_alike() -> None:
    both = parse_tariff(CITY.replace('vehicles = ["car"]\n', ""), source="both.toml")
    car = both.quote("car", at("2026-07-13T09:00"), at("2026-07-13T11:00"))
    bike = both.quote("motorbike", at("2026-07-13T09:00"), at("2026-07-13T11:00"))
    assert car.amount == bike.amount == 400


def test_per_class_tables() -> None:
    text = CITY.replace('name = "saturday or holiday"', 'name = "bikes"\nvehicles = ["motorbike"]')
    tariff = parse_tariff(text.replace('vehicles = ["car"]\n', "", 1), source="classes.toml")
    saturday = (at("2026-07-18T09:00"), at("2026-07-18T10:00"))
    monday = (at("2026-07-13T09:00"), at("2026-07-13T10:00"))
    assert tariff.quote("car", *saturday).amount == 0
    assert tariff.quote("motorbike", *saturday).amount == 500
    assert tariff.quote("car", *monday).amount == 200
    assert tariff.quote("motorbike", *monday).amount == 200


def test_unknown_vehicle_class(city: Tariff) -> None:
    with pytest.raises(UnknownVehicleClass, match="unknown vehicle class 'truck'"):
        city.quote("truck", at("2026-07-13T09:00"), at("2026-07-13T10:00"))
    with pytest.raises(UnknownVehicleClass, match="does not price motorbike"):
        city.quote("motorbike", at("2026-07-13T09:00"), at("2026-07-13T10:00"))


def test_exit_before_entry_and_naive_times(city: Tariff) -> None:
    with pytest.raises(QuoteError, match="before entry"):
        city.quote("car", at("2026-07-13T10:00"), at("2026-07-13T09:00"))
    with pytest.raises(QuoteError, match="timezone-aware"):
        city.quote("car", datetime(2026, 7, 13, 9), at("2026-07-13T10:00"))
