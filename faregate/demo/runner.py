"""Runs the demo's stages in order on the embedded default (SQLite, local servers)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.rule import Rule

from faregate.config import Settings
from faregate.demo.credentials_stage import run_credentials_stage

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# A fixed, ordinary weekday keeps every run of the demo identical.
DEMO_DAY_START = datetime(2026, 11, 24, 6, 30, tzinfo=HANOI)


@dataclass
class DemoReport:
    """What each stage reported, and the checks that must hold at the end."""

    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


def demo_workdir(settings: Settings) -> Path:
    """A fresh directory for this run's keys, images and device journals."""
    workdir = settings.data_dir / "demo"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return workdir


async def run_demo(settings: Settings, console: Console) -> DemoReport:
    report = DemoReport()
    workdir = demo_workdir(settings)

    console.print(Rule("1. Credentials at an offline gate"))
    credentials = run_credentials_stage(workdir / "credentials", console, DEMO_DAY_START)
    report.checks["credential decisions as expected"] = credentials.as_expected

    return report
