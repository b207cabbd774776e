"""Loading tariff files: shipped names, paths, and every malformed field named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from parking.errors import ParkingError, TariffError
from parking.tariff_files import (
    load_tariff,
    parse_tariff,
    resolve_tariff,
    shipped_tariff_dir,
    shipped_tariff_names,
)

GOOD = """
id = "t"
name = "T"
currency = "GBP"
timezone = "Europe/London"

[period]
reset = "02:00"
maximum = 1000

[[rates]]
name = "hourly"
  [[rates.blocks]]
  type = "incrementing"
  unit = 60
  amount = 200
"""


def test_shipped_tariffs_all_load() -> None:
    names = shipped_tariff_names()
    assert {"hanoi-car", "hanoi-motorbike", "apds-rate-table-5", "uk-dtro"} <= set(names)
    for name in names:
        assert load_tariff(name).id == name


def test_shipped_dir_is_the_data_folder_in_a_checkout() -> None:
    assert (shipped_tariff_dir() / "hanoi-car.toml").is_file()


def test_path_wins_over_a_shipped_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "uk-dtro").write_text(GOOD, encoding="utf-8")
    assert resolve_tariff("uk-dtro") == Path("uk-dtro")
    assert load_tariff("uk-dtro").id == "t"


def test_missing_file() -> None:
    with pytest.raises(TariffError, match="no such file or shipped tariff"):
        load_tariff("/nonexistent/tariff.toml")


def test_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("id = [", encoding="utf-8")
    with pytest.raises(TariffError, match=r"^bad\.toml: not TOML"):
        load_tariff(path)


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        ('id = "t"\n', "", "id", "required"),
        ('currency = "GBP"', 'currency = "pounds"', "currency", "ISO 4217"),
        ('timezone = "Europe/London"', 'timezone = "Mars/Olympus"', "timezone", "unknown IANA"),
        ('reset = "02:00"', 'reset = "2am"', "period.reset", "HH:MM"),
        ('reset = "02:00"', 'reset = "24:00"', "period.reset", "00:00"),
        ("maximum = 1000", "maximum = -5", "period.maximum", "negative"),
        ("maximum = 1000", "maximum = 10.5", "period.maximum", "integer"),
        ("maximum = 1000", "maximum = 0", "period.maximum", "free"),
        ('name = "hourly"', 'name = "hourly"\ndays = ["funday"]', "rates[0].days", "unknown day"),
        ('name = "hourly"', 'name = "hourly"\nvehicles = ["bus"]', "rates[0].vehicles", "bus"),
        ('name = "hourly"', 'name = "h"\nstart = "06:00"\nend = "06:00"', "rates[0].end", "empty"),
        ('name = "hourly"', 'name = "h"\nstart = "25:00"', "rates[0].start", "HH:MM"),
        ('name = "hourly"', 'name = "h"\ncolour = "red"', "rates[0].colour", "unknown field"),
        ('type = "incrementing"', 'type = "hourly"', "rates[0].blocks[0].type", "flat"),
        ("unit = 60", "unit = 0", "rates[0].blocks[0].unit", "at least 1"),
        ("unit = 60", "", "rates[0].blocks[0].unit", "required"),
        ("amount = 200", "amount = 2.0", "rates[0].blocks[0].amount", "integer"),
        ("amount = 200", "amount = 200\nminimum = 5\nmaximum = 4", "minimum", "above"),
        ("amount = 200", "amount = 200\nfrom = 30\nto = 10", "rates[0].blocks[0].to", "after"),
        ("amount = 200", "amount = 200\ntiers = []", "rates[0].blocks[0].tiers", "not used"),
        ('currency = "GBP"', 'currency = "GBP"\nholidays = ["x"]', "holidays[0]", "date"),
        ('currency = "GBP"', 'currency = "GBP"\nfree_minutes = -1', "free_minutes", "negative"),
    ],
)
def test_malformed_field_is_named(old: str, new: str, field: str, reason: str) -> None:
    assert old in GOOD
    with pytest.raises(TariffError) as caught:
        parse_tariff(GOOD.replace(old, new, 1), source="t.toml")
    error = caught.value
    assert error.file == "t.toml"
    assert field in error.field
    assert reason in error.reason
    assert str(error).startswith(f"t.toml: {error.field}: ")


def test_no_rates() -> None:
    with pytest.raises(TariffError, match="rates: required"):
        parse_tariff(GOOD[: GOOD.index("[[rates]]")], source="t.toml")


TIERED = """
id = "t"
name = "T"
currency = "EUR"
timezone = "Europe/Paris"
[[rates]]
name = "tiers"
  [[rates.blocks]]
  type = "tiered"
  from = 0
  to = 120
  tiers = [{ up_to = 60, amount = 300 }, { up_to = 120, amount = 400 }]
  [[rates.blocks]]
  type = "flat"
  from = 120
  amount = 100
"""


def test_tiered_parses() -> None:
    tariff = parse_tariff(TIERED, source="t.toml")
    block = tariff.rates[0].blocks[0]
    assert [tier.amount for tier in block.tiers] == [300, 400]


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        ("up_to = 120, amount = 400", "up_to = 90, amount = 400", "tiers[1].up_to", "end with"),
        ("up_to = 120, amount = 400", "up_to = 60, amount = 400", "tiers[1].up_to", "later"),
        ("up_to = 120, amount = 400", "up_to = 120, amount = 200", "tiers[1].amount", "less"),
        ("  to = 120\n  tiers", "  tiers", "blocks[0].to", "required for a tiered"),
        ("from = 120\n", "from = 60\n", "blocks[1].from", "overlaps"),
    ],
)
def test_tiered_mistakes(old: str, new: str, field: str, reason: str) -> None:
    assert old in TIERED
    with pytest.raises(TariffError) as caught:
        parse_tariff(TIERED.replace(old, new, 1), source="t.toml")
    assert field in caught.value.field
    assert reason in caught.value.reason


def test_only_the_last_block_may_be_open() -> None:
    open_first = '  [[rates.blocks]]\n  type = "flat"\n  amount = 1\n'
    text = TIERED.replace("  [[rates.blocks]]\n", open_first + "  [[rates.blocks]]\n", 1)
    with pytest.raises(TariffError, match=r"rates\[0\]\.blocks\[0\]\.to: only the last"):
        parse_tariff(text, source="t.toml")


def test_tariff_error_is_a_parking_error() -> None:
    assert issubclass(TariffError, ParkingError)
