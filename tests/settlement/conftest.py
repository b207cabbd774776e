"""Fixtures of the settlement run's tests: the flows charge through the in-memory gateway
(`gateway`, `tests.helpers.fake_gateway`); the tests that reach localstripe (the end-to-end
run in test_settle_gateway.py, the fault tests through the proxy) have one of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from faregate_data import HANOI_FEED
from gateways.localstripe_server import LocalStripe, localstripe
from tests.helpers.fake_gateway import FakeGateway
from ticketing.fares.feed import FareFeed, load_feed


@pytest.fixture(scope="module")
def feed() -> FareFeed:
    return load_feed(HANOI_FEED)


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def stripe_under_test(tmp_path: Path) -> AsyncIterator[LocalStripe]:
    """A localstripe of the test's own: the reconcile stage lists every payment it holds."""
    async with localstripe(tmp_path / "localstripe", from_scratch=True) as running:
        yield running
