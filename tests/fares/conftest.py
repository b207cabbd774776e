"""Fixtures for the fare engine tests: the synthetic "minicity" feed, feed writers, tap makers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ticketing.fares import FareFeed, load_feed
from ticketing.taps import Tap, TapKind

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MINICITY = FIXTURES / "minicity"
# A real Fares v1 feed (Caltrain, 2009); its source and licence are in its README.
CALTRAIN = FIXTURES / "caltrain" / "caltrain_gtfs.zip"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")

TapMaker = Callable[..., Tap]


@pytest.fixture(scope="session")
def caltrain() -> Path:
    """The Caltrain feed (a real Fares v1 feed), in tests/fixtures/caltrain."""
    return CALTRAIN


@pytest.fixture(scope="session")
def minicity() -> FareFeed:
    return load_feed(MINICITY)


@pytest.fixture
def feed_dir(tmp_path: Path) -> Callable[..., Path]:
    """A copy of minicity with some files replaced (text) or removed (None)."""

    def make(**files: str | None) -> Path:
        target = tmp_path / "feed"
        shutil.copytree(MINICITY, target)
        for stem, text in files.items():
            path = target / f"{stem}.txt"
            if text is None:
                path.unlink()
            else:
                path.write_text(text, encoding="utf-8")
        return target

    return make


def hanoi_time(text: str) -> datetime:
    """An instant given as Hanoi local time, e.g. "2025-09-01 08:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=HANOI)


@pytest.fixture
def local() -> Callable[[str], datetime]:
    return hanoi_time


@pytest.fixture
def tap() -> TapMaker:
    """tap(kind, route, stop, "2025-09-01 08:00", device=..., seq=..., account=...)."""
    counter = iter(range(1, 1_000_000))

    def make(
        kind: TapKind,
        route_id: str,
        stop_id: str,
        at: str,
        *,
        device: str | None = None,
        seq: int | None = None,
        account: str = "acct-1",
    ) -> Tap:
        return Tap(
            device_id=device or f"dev-{stop_id}",
            device_seq=seq if seq is not None else next(counter),
            credential_id=1,
            account_id=account,
            at=hanoi_time(at),
            route_id=route_id,
            stop_id=stop_id,
            kind=kind,
        )

    return make
