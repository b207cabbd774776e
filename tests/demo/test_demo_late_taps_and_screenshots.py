"""`faregate demo` with taps that arrive after their day settled, and a rider's code shared as a
screenshot inside one station: the late taps are stored and settled as adjustments of the day
(a lowered day refunded to the card) with taps and money still conserved; the screenshot is a
real PNG read back by each gate's camera, refused at the second gate while the station's Redis
is up and flagged by settlement when the station was cut off from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qr.decode import decode_image
from qr.token import parse_token
from tests.demo.test_demo_cli import faregate


@pytest.mark.slow
@pytest.mark.timeout(900)  # a whole day on a loaded machine: over the default 300 s
def test_late_taps_and_a_shared_screenshot(tmp_path: Path) -> None:
    data_dir = tmp_path / "city"
    done = faregate(
        "demo", "--passengers", "40", "--data-dir", str(data_dir), "--json",
        "--faults", "late_taps,station_redis_down",
    )  # fmt: skip
    figures = json.loads(done.stdout)
    story = done.stderr
    assert figures["faults"] == {"late_taps": 1, "station_redis_down": 1}
    assert figures["conservation_ok"] is True, story[-3000:]
    assert figures["charged"] == figures["ledger_collected"]
    assert figures["taps_made"] == figures["taps_priced"] + figures["taps_quarantined"]
    # The late gate's taps were settled with the next day's run, as adjustments.
    assert "late_taps: gate-" in story
    assert "adjustments of earlier days (late taps)" in story
    # Both screenshots are PNGs whose code the gates' camera reads back.
    shots = sorted((data_dir / "screenshots").glob("*.png"))
    assert len(shots) == 2
    assert all(parse_token(decode_image(shot)) is not None for shot in shots)
    assert "PASS shared screenshot refused at the station's second gate" in story
    assert "PASS screenshot shared while the station was cut off: flagged" in story
