"""Lots files: the shipped one loads; every malformed field is one error naming file, field
and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from faregate_data import data_path
from parking.errors import LotsFileError, ParkingError
from parking.services import load_lots

GOOD = """
[[lots]]
id = "a"
name = "A"
operator = "op"
capacity = 10
tariff = "hanoi-car"
"""


def test_the_shipped_lots_load_with_their_tariffs() -> None:
    lots = load_lots(data_path("parking", "lots.toml"))
    assert [lot.config.lot_id for lot in lots] == [
        "hoan-kiem-street", "vincom-ba-trieu", "dong-xuan-motorbike",
    ]  # fmt: skip
    street, mall, bikes = (lot.config for lot in lots)
    assert (street.passback, street.hold_amount, street.currency) == ("hard", 60_000, "VND")
    assert (mall.passback, mall.reserved) == ("soft", 10)
    assert lots[2].tariff.id == "hanoi-motorbike"
    assert lots[2].document == data_path("tariffs", "hanoi-motorbike.toml").read_text()
    assert (street.kind, mall.kind, bikes.kind) == ("on-street", "car-park", "parking-ground")
    assert (street.permit_price, bikes.permit_price) == (3_000_000, 0)
    for lot in lots:  # every lot has its place and the source of its coordinates
        assert lot.config.latitude is not None
        assert lot.config.longitude is not None
        assert 20.9 < lot.config.latitude < 21.1
        assert 105.7 < lot.config.longitude < 105.9
        assert lot.source


def test_defaults(tmp_path: Path) -> None:
    path = tmp_path / "lots.toml"
    path.write_text(GOOD)
    [lot] = load_lots(path)
    assert (lot.config.reserved, lot.config.passback, lot.config.hold_amount) == (0, "hard", 0)


def test_a_tariff_next_to_the_lots_file_is_found(tmp_path: Path) -> None:
    tariff = data_path("tariffs", "uk-dtro.toml").read_text()
    (tmp_path / "mine.toml").write_text(tariff)
    path = tmp_path / "lots.toml"
    path.write_text(GOOD.replace('"hanoi-car"', '"mine.toml"'))
    assert load_lots(path)[0].config.currency == "GBP"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lots = [", "lots.toml: not valid TOML"),
        ("", "lots.toml: lots: must be a non-empty array of tables"),
        ("other = 1\n" + GOOD, "lots.toml: other: unknown field"),
        ("lots = [1]", "lots.toml: lots[0]: must be a table"),
        (GOOD + "colour = 'red'\n", "lots.toml: lots[0].colour: unknown field"),
        (GOOD.replace('id = "a"', 'id = "a b"'), "lots[0].id: must be 1-100 letters, digits"),
        (GOOD.replace('operator = "op"', 'operator = ""'), "lots[0].operator: must be a non-empty"),
        (GOOD.replace("capacity = 10", "capacity = 0"), "lots[0].capacity: must be 1 to"),
        (GOOD.replace("capacity = 10", "capacity = true"), "lots[0].capacity: must be an integer"),
        (GOOD + "reserved = 11\n", "lots[0].reserved: must be 0 to the capacity (10)"),
        (GOOD + "hold = -1\n", "lots[0].hold: must be 0 to"),
        (GOOD + "kind = 'moon'\n", "lots[0].kind: must be one of on-street, parking-ground"),
        (GOOD + "latitude = 21.0\n", "lots[0].latitude: give both latitude and longitude"),
        (GOOD + "latitude = 91\nlongitude = 0\n", "lots[0].latitude: must be a number from"),
        (GOOD + "latitude = 'north'\n", "lots[0].latitude: must be a number of degrees"),
        (GOOD + "permit_price = -5\n", "lots[0].permit_price: must be 0 to"),
        (GOOD + "passback = 'maybe'\n", "lots[0].passback: must be 'hard' or 'soft'"),
        (GOOD.replace("hanoi-car", "nowhere"), "lots[0].tariff: nowhere: no such file"),
        (GOOD + GOOD, "lots[1].id: duplicate lot 'a'"),
    ],
)
def test_malformed_lots_are_one_error_each(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lots.toml"
    path.write_text(text)
    with pytest.raises(LotsFileError) as caught:
        load_lots(path)
    assert message in str(caught.value)
    assert isinstance(caught.value, ParkingError)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LotsFileError, match=r"absent\.toml: cannot read"):
        load_lots(tmp_path / "absent.toml")
