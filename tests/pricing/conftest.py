"""Fixtures of the pricing tests: the shipped Hanoi feed, parsed once per module."""

from __future__ import annotations

import pytest

from faregate_data import HANOI_FEED
from ticketing.fares.feed import FareFeed, load_feed


@pytest.fixture(scope="module")
def feed() -> FareFeed:
    return load_feed(HANOI_FEED)
