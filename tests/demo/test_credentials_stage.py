"""Demo stage 1 runs end to end into a temporary directory and decides as the story says."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from faregate.demo.credentials_stage import run_credentials_stage

NOW = datetime(2026, 11, 24, 6, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def test_stage_counts_and_prints_every_decision(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_credentials_stage(tmp_path, Console(file=out, width=160), NOW)
    assert result.accepted == 3
    assert result.refused == {
        "replayed": 1,
        "stale_code": 1,
        "bad_signature": 1,
        "denied": 1,
        "not_entitled": 1,
    }
    assert result.as_expected
    printed = out.getvalue()
    for word in (
        "replayed",
        "stale_code",
        "bad_signature",
        "denied",
        "OPEN",
        "8 decisions journaled",
    ):
        assert word in printed
    assert all(p.image.exists() for p in result.presentations)
