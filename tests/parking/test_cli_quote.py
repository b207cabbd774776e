"""`faregate parking quote`: JSON and table output, shipped names and paths, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from faregate.cli import cli
from parking.tariff_files import shipped_tariff_dir

STAY = ["--entry", "2026-11-30T17:00+07:00", "--exit", "2026-12-01T07:00+07:00"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["parking", "quote", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_by_shipped_name() -> None:
    code, out, _ = run("--tariff", "hanoi-car", "--vehicle", "car", *STAY, "--json")
    assert code == 0, out
    body = json.loads(out)
    assert body["amount"] == 200_000
    assert body["currency"] == "VND"
    assert [item["amount"] for item in body["breakdown"]] == [25_000, 150_000, 25_000]
    assert [item["rate"] for item in body["breakdown"]][1] == "overnight (6 turns)"


def test_json_by_path_and_reset_split() -> None:
    path = str(shipped_tariff_dir() / "uk-dtro.toml")
    stay = ["--entry", "2026-06-10T01:30+01:00", "--exit", "2026-06-10T02:30+01:00"]
    code, out, _ = run("--tariff", path, "--vehicle", "motorbike", *stay, "--json")
    assert code == 0, out
    body = json.loads(out)
    assert (body["amount"], body["currency"]) == (400, "GBP")
    assert len(body["breakdown"]) == 2


def test_table() -> None:
    code, out, _ = run("--tariff", "hanoi-car", "--vehicle", "car", *STAY)
    assert code == 0, out
    assert "overnight (6 turns)" in out
    assert "Total: 200,000 VND" in out


def test_a_stay_from_1970_to_8999_answers_with_its_repeated_week() -> None:
    """It ran for minutes (a walk over every day of 7,030 years) before."""
    stay = ["--entry", "1970-01-01T00:00Z", "--exit", "8999-12-31T23:59Z"]
    code, out, _ = run("--tariff", "uk-dtro", "--vehicle", "car", *stay, "--json")
    assert code == 0, out
    body = json.loads(out)
    assert body["repeats"] == [{"first": 1, "count": 7, "times": 366_807, "every_days": 7}]
    # 10.00 a day (the period maximum), from 01:00 on day one (2.00 for its hour to 02:00).
    days = (datetime(9000, 1, 1) - datetime(1970, 1, 1)).days
    assert body["amount"] == 200 + 1000 * days
    code, out, _ = run("--tariff", "uk-dtro", "--vehicle", "car", *stay)
    assert code == 0, out
    assert "the 7 segments above, 366,806 more" in out


def test_tariffs_lists_the_shipped_ones() -> None:
    result = CliRunner().invoke(cli, ["parking", "tariffs"])
    assert result.exit_code == 0
    assert "apds-rate-table-5" in result.stdout.split()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tariff", "no-such", "--vehicle", "car", *STAY], "no such file or shipped tariff"),
        (["--tariff", "hanoi-car", "--vehicle", "truck", *STAY], "unknown vehicle class"),
        (["--tariff", "hanoi-car", "--vehicle", "motorbike", *STAY], "does not price"),
        (
            [
                "--tariff",
                "hanoi-car",
                "--vehicle",
                "car",
                "--entry",
                "2026-11-30T17:00",
                "--exit",
                "2026-11-30T18:00+07:00",
            ],
            "needs a UTC offset",
        ),
        (
            [
                "--tariff",
                "hanoi-car",
                "--vehicle",
                "car",
                "--entry",
                "soon",
                "--exit",
                "2026-11-30T18:00+07:00",
            ],
            "is not an ISO 8601 time",
        ),
        (
            [
                "--tariff",
                "hanoi-car",
                "--vehicle",
                "car",
                "--entry",
                "2026-11-30T19:00+07:00",
                "--exit",
                "2026-11-30T18:00+07:00",
            ],
            "is before entry",
        ),
    ],
)
def test_bad_input_is_one_error_line(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code != 0
    assert out == ""
    assert err.startswith("Error: ")
    assert message in err
    assert err.count("\n") == 1


def test_malformed_tariff_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('id = "x"\nname = "x"\ncurrency = "VND"\ntimezone = "Asia/Ho_Chi_Minh"\n')
    code, _, err = run("--tariff", str(path), "--vehicle", "car", *STAY)
    assert code != 0
    assert err == "Error: broken.toml: rates: required: a non-empty list of [[rates]] tables\n"


def test_console_script_has_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("not = [toml")
    done = subprocess.run(
        [sys.executable, "-m", "faregate", "parking", "quote", "--tariff", str(path),
         "--vehicle", "car", *STAY],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.startswith("Error: broken.toml: not TOML")
    assert "Traceback" not in done.stderr
