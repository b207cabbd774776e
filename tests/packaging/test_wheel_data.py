"""The wheel ships every file of data/ as faregate_data, and the accessor finds them.

`scripts/check-wheel` (run by `make test`) installs the wheel in a fresh environment and
prices a ride on the shipped feed; this test says which file went missing when it fails.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import faregate_data
from faregate_data import HANOI_FEED, MissingDataError, data_path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def _data_files() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "data"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        "faregate_data/" + Path(name).relative_to("data").as_posix()
        for name in listed
        if (ROOT / name).is_file()
    }


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("faregate-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_every_data_file_is_in_the_wheel(wheel_names: set[str]) -> None:
    expected = _data_files()
    assert "faregate_data/hanoi/fare_leg_rules.txt" in expected
    assert expected - wheel_names == set()


def test_the_wheel_ships_the_migrations(wheel_names: set[str]) -> None:
    assert "faregate/migrations/env.py" in wheel_names
    assert any(n.startswith("faregate/migrations/versions/0001_") for n in wheel_names)


def test_accessor_finds_the_hanoi_feed() -> None:
    assert data_path("hanoi") == HANOI_FEED
    assert (HANOI_FEED / "fare_leg_rules.txt").is_file()
    assert Path(faregate_data.__file__).resolve().parent == data_path()


def test_accessor_refuses_what_was_not_shipped() -> None:
    with pytest.raises(MissingDataError, match="no shipped data"):
        data_path("atlantis")
