"""Every benchmark starts as `make bench` runs it: as a script, whose folder comes first on
sys.path (a bench file named like one of our packages once shadowed it, and the benchmarks
importing that package failed before measuring anything)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))
PACKAGES = {"qr", "ticketing", "parking", "gateways", "simulators", "faregate", "faregate_data"}


def test_no_benchmark_is_named_like_a_package() -> None:
    assert SCRIPTS
    assert not {script.stem for script in SCRIPTS} & PACKAGES


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.name)
def test_a_benchmark_imports_and_answers_help(script: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage:" in run.stdout
