"""The shipped data's accessor finds what is shipped and refuses what is not.

That the wheel holds every file of data/ (as faregate_data) and of our packages, migrations
included, is `scripts/check-wheel`'s check (run by `make test`), which names a missing file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import faregate_data
from faregate_data import HANOI_FEED, MissingDataError, data_path


def test_accessor_finds_the_hanoi_feed() -> None:
    assert data_path("hanoi") == HANOI_FEED
    assert (HANOI_FEED / "fare_leg_rules.txt").is_file()
    assert Path(faregate_data.__file__).resolve().parent == data_path()


def test_accessor_refuses_what_was_not_shipped() -> None:
    with pytest.raises(MissingDataError, match="no shipped data"):
        data_path("atlantis")
