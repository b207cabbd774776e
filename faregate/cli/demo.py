"""`faregate demo`: the simulated city day."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console

from faregate.config import Settings
from faregate.database import check_reachable
from faregate.database import database_url as checked_url
from faregate.demo.cluster import MAX_SERVERS, is_postgres
from faregate.demo.runner import PASSENGERS, SEED, VEHICLES, run_demo, serve_demo
from simulators.errors import FaultSpecError
from simulators.faults import FaultKind, Faults


@click.command()
@click.option(
    "--seed", type=int, default=SEED, show_default=True, help="Seed of the simulated day."
)
@click.option(
    "--passengers",
    type=click.IntRange(2),
    default=None,
    help=f"Riders of the day [default: {PASSENGERS}].",
)
@click.option(
    "--riders",
    type=click.IntRange(2),
    default=None,
    hidden=True,
    help="The former name of --passengers.",
)
@click.option(
    "--vehicles",
    type=click.IntRange(1),
    default=VEHICLES,
    show_default=True,
    help="Vehicles parking in the day's lots.",
)
@click.option(
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The demo's own directory (database, Redis, gateway state, journals, reports); "
    "emptied first. Default: DATA_DIR/demo.",
)
@click.option(
    "--faults",
    "fault_spec",
    default=None,
    metavar="SPEC",
    help="The faults the day meets, comma-separated: all, none, KIND, KIND=DOSE or -KIND "
    f"(kinds: {', '.join(kind.value for kind in FaultKind)}). Default: all, reduced.",
)
@click.option(
    "--database-url",
    default=None,
    metavar="URL",
    help="The database the demo's backend runs on (default: the global --database-url, else "
    "SQLite in the demo's directory). On PostgreSQL each run has a schema of its own, named "
    "after its directory and made afresh.",
)
@click.option(
    "--servers",
    type=click.IntRange(1, MAX_SERVERS),
    default=1,
    show_default=True,
    help="faregate serve processes: more than one (PostgreSQL only) share the database, one "
    "Redis and the gateway, with a faregate worker pricing for them; requests go to each in "
    "turn, and the mid-day restart restarts one of them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of the figures.")
@click.option(
    "--serve",
    is_flag=True,
    help="Afterwards leave the backend running on the demo's directory (until Ctrl-C) and "
    "print the pages' addresses and the demo's sign-ins.",
)
@click.pass_obj
def demo(
    settings: Settings,
    seed: int,
    passengers: int | None,
    riders: int | None,
    vehicles: int,
    data_dir: Path | None,
    fault_spec: str | None,
    database_url: str | None,
    servers: int,
    as_json: bool,
    serve: bool,
) -> None:
    """Run a simulated city day end to end over the wire and check it balances."""
    if passengers is not None and riders is not None and passengers != riders:
        raise click.UsageError("--riders is the old name of --passengers: give one of them")
    try:
        faults = Faults.parse(fault_spec)
    except FaultSpecError as error:
        raise click.BadParameter(str(error), param_hint="--faults") from None
    count = passengers or riders or PASSENGERS
    if database_url is not None:
        settings = replace(settings, database_url=database_url)
    if settings.database_url:
        # A bad URL is reported before the demo spends a minute on its first stages.
        asyncio.run(check_reachable(checked_url(settings)))
    if servers > 1 and not is_postgres(settings):
        raise click.UsageError(
            f"--servers {servers} needs PostgreSQL, which several servers can share: give "
            "--database-url postgresql+asyncpg://USER@HOST/DB"
        )
    # With --json the story goes to standard error and standard output holds the object.
    console = Console(stderr=as_json)

    async def run() -> bool:
        report = await run_demo(
            settings, console, passengers=count, vehicles=vehicles, seed=seed,
            data_dir=data_dir, faults=faults, serve=serve, servers=servers,
        )  # fmt: skip
        for name, ok in report.checks.items():
            console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {name}")
        if as_json:
            click.echo(json.dumps(report.figures))
        if report.backend is not None:
            await serve_demo(report.backend, console)
        return report.ok

    # --serve runs until Ctrl-C: that ends it, as it ends `faregate serve`.
    with contextlib.suppress(KeyboardInterrupt) if serve else contextlib.nullcontext():
        if not asyncio.run(run()):
            raise click.ClickException("the demo's end-of-day checks failed")
