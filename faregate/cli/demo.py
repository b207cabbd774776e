"""`faregate demo`: the simulated city day."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console

from faregate.config import Settings
from faregate.demo.runner import run_demo


@click.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Run a simulated city day end to end on the embedded default and check it balances."""
    console = Console()
    report = asyncio.run(run_demo(settings, console))
    for name, ok in report.checks.items():
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {name}")
    if not report.ok:
        raise click.ClickException("the demo's end-of-day checks failed")
