"""`faregate demo`: the simulated city day."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console

from faregate.config import Settings
from faregate.database import check_reachable, database_url
from faregate.demo.runner import RIDERS, SEED, run_demo


@click.command()
@click.option("--riders", type=click.IntRange(2), default=RIDERS, show_default=True)
@click.option(
    "--seed", type=int, default=SEED, show_default=True, help="Seed of the simulated day."
)
@click.pass_obj
def demo(settings: Settings, riders: int, seed: int) -> None:
    """Run a simulated city day end to end on the embedded default and check it balances."""
    if settings.database_url:
        # A bad URL is reported before the demo spends a minute on its first stages.
        asyncio.run(check_reachable(database_url(settings)))
    console = Console()
    report = asyncio.run(run_demo(settings, console, riders_count=riders, seed=seed))
    for name, ok in report.checks.items():
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {name}")
    if not report.ok:
        raise click.ClickException("the demo's end-of-day checks failed")
