"""`faregate demo` runs the whole simulated day end to end, as a user starts it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end_and_every_check_passes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "demo", "--riders", "40"],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAIL" not in done.stdout
    for check in (
        "PASS credential decisions as expected",
        "PASS taps accepted = ingested = priced",
        "PASS ledger clearing = gateway collected",
        "PASS declined card: denied, then cleared by retry",
        "PASS ledger balanced at the end of the day",
    ):
        assert check in done.stdout
    assert (tmp_path / "demo" / "faregate.db").exists()
