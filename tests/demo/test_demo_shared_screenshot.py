"""`faregate demo` with a rider's code shared as a screenshot inside one station: a real PNG
read back by each gate's camera, refused at the second gate while the station's Redis is up
and flagged by settlement when the station was cut off from it; taps and money conserved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qr.decode import decode_image
from qr.token import parse_token
from tests.demo.test_demo_cli import faregate


@pytest.mark.slow
@pytest.mark.timeout(900)  # a whole day on a loaded machine: over the default 300 s
def test_a_screenshot_shared_inside_a_station(tmp_path: Path) -> None:
    data_dir = tmp_path / "city"
    done = faregate(
        "demo", "--passengers", "40", "--data-dir", str(data_dir), "--json",
        "--faults", "station_redis_down",
    )  # fmt: skip
    figures = json.loads(done.stdout)
    story = done.stderr
    assert figures["faults"] == {"station_redis_down": 1}
    assert figures["conservation_ok"] is True, story[-3000:]
    # Both screenshots are PNGs whose code the gates' camera reads back.
    shots = sorted((data_dir / "screenshots").glob("*.png"))
    assert len(shots) == 2
    assert all(parse_token(decode_image(shot)) is not None for shot in shots)
    assert "PASS shared screenshot refused at the station's second gate" in story
    assert "PASS screenshot shared while the station was cut off: flagged" in story
