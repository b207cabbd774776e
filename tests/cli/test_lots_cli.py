"""`faregate lots add / list / edit` on a fresh data directory: a lot is created, listed and
changed, a new tariff scheduled; every bad input is one `Error:` line and a non-zero exit,
and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faregate.cli import main
from faregate_data import data_path

ADD = [
    "lots", "add", "hoan-kiem", "--name", "Hoàn Kiếm on-street", "--operator",
    "iparking-hanoi", "--capacity", "40", "--reserved", "2", "--tariff", "hanoi-car",
    "--kind", "on-street", "--lat", "21.02889", "--lon", "105.8525", "--permit-price",
    "3000000",
]  # fmt: skip


def run(data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_add_list_and_edit_a_lot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(tmp_path, capsys, *ADD, "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["lot_id"] == "hoan-kiem"
    assert (created["capacity"], created["reserved"], created["kind"]) == (40, 2, "on-street")
    assert (created["latitude"], created["permit_price"]) == (21.02889, 3_000_000)
    assert (created["tariff"]["version"], created["tariff"]["tariff_id"]) == (1, "hanoi-car")

    code, out, err = run(tmp_path, capsys, "lots", "list")
    assert code == 0, err
    assert "hoan-kiem" in out
    assert "v1 hanoi-car" in out

    tariff = tmp_path / "dearer.toml"
    tariff.write_text(data_path("tariffs", "hanoi-car.toml").read_text().replace("25000", "30000"))
    code, out, err = run(
        tmp_path, capsys, "lots", "edit", "hoan-kiem", "--capacity", "45", "--reason",
        "repainted", "--tariff", str(tariff), "--from", "2099-01-01T00:00:00+07:00",
    )  # fmt: skip
    assert code == 0, err
    assert "changed lot hoan-kiem: capacity" in out
    assert "version 2 of hoan-kiem, in force from 2099-01-01T00:00:00+07:00" in out

    code, out, err = run(tmp_path, capsys, "lots", "list", "--json")
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["capacity"] == 45
    assert listed["tariff"]["version"] == 1  # version 2 comes into force in 2099
    assert [(v["version"], v["status"]) for v in listed["upcoming"]] == [(2, "scheduled")]


BAD = {
    "unknown operator": ([*ADD[:5], "--operator", "nobody", *ADD[7:]], "no operator 'nobody'"),
    "lot id with a space": (["lots", "add", "a b", *ADD[3:]], "lot_id: must be 1-100"),
    "capacity 0": ([*ADD, "--capacity", "0"], "Invalid value for '--capacity'"),
    "reserved above capacity": ([*ADD, "--reserved", "41"], "reserved: must be 0 to"),
    "unknown tariff": ([*ADD, "--tariff", "nowhere"], "nowhere: no such file or shipped"),
    "latitude not a number": ([*ADD, "--lat", "north"], "--lat 'north' is not a number"),
    "latitude out of range": ([*ADD, "--lat", "91"], "latitude: must be a number from"),
    "latitude without longitude": (
        [*ADD[:-6], "--lat", "21", "--permit-price", "0"],
        "give both latitude and longitude",
    ),
    "unknown kind": ([*ADD, "--kind", "moon"], "Invalid value for '--kind'"),
    "negative permit price": ([*ADD, "--permit-price", "-1"], "Invalid value for '--permit"),
    "name of a newline": ([*ADD, "--name", "a\nb"], "name: must be 1-100 printable"),
    "edit an unknown lot": (["lots", "edit", "nowhere", "--capacity", "3"], "no parking lot"),
    "edit with nothing": (["lots", "edit", "hoan-kiem"], "nothing to change"),
    "edit from without a tariff": (
        ["lots", "edit", "hoan-kiem", "--from", "2099-01-01T00:00:00Z"],
        "--from says when a new --tariff comes into force",
    ),
    "edit tariff in the past": (
        ["lots", "edit", "hoan-kiem", "--tariff", "hanoi-car", "--from", "2001-01-01T00:00Z"],
        "is in the past",
    ),
    "edit tariff naive time": (
        ["lots", "edit", "hoan-kiem", "--tariff", "hanoi-car", "--from", "2099-01-01T00:00"],
        "needs a UTC offset",
    ),
    "edit tariff in pounds": (
        ["lots", "edit", "hoan-kiem", "--tariff", "uk-dtro"],
        "lot hoan-kiem charges VND; this tariff GBP",
    ),
    "edit reserved above capacity": (
        ["lots", "edit", "hoan-kiem", "--reserved", "50"],
        "reserved: must be 0 to the capacity (40)",
    ),
    "add twice": (ADD, "lot 'hoan-kiem' exists"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_is_one_error_line_and_changes_nothing(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(tmp_path, capsys, *ADD)
    assert code == 0, err
    args, message = BAD[case]
    code, _, err = run(tmp_path, capsys, *args)
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("Error:"), err
    assert message in lines[-1], err
    code, out, _ = run(tmp_path, capsys, "lots", "list", "--json")
    [lot] = json.loads(out)
    assert (lot["capacity"], lot["reserved"], lot["upcoming"]) == (40, 2, [])


def test_a_bad_tariff_file_names_each_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        data_path("tariffs", "hanoi-car.toml")
        .read_text()
        .replace('currency = "VND"', 'currency = "vnd"\ncolour = "red"')
    )
    code, _, err = run(tmp_path, capsys, *ADD[:-10], "--tariff", str(bad))
    assert code != 0
    assert "bad.toml: currency: expected an ISO 4217 code" in err or "colour" in err
    assert "and 1 more" in err
    assert "Traceback" not in err
