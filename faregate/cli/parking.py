"""`faregate parking`: parking tariff commands: price a stay against a tariff file."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from rich.console import Console
from rich.table import Table

from faregate.cli._common import instant
from parking.errors import ParkingError
from parking.tariff import VEHICLE_CLASSES, Quote
from parking.tariff_files import load_tariff, shipped_tariff_names
from ticketing.errors import TicketingError
from ticketing.money import Money

WEEK = timedelta(days=7)


@click.group(name="parking")
def parking() -> None:
    """Parking commands: quote a stay against a tariff."""


@parking.command(name="quote")
@click.option(
    "--tariff",
    "tariff_name",
    required=True,
    metavar="FILE",
    help="A tariff TOML file, or a shipped tariff's name (e.g. hanoi-car).",
)
@click.option(
    "--vehicle",
    required=True,
    metavar="CLASS",
    help=f"Vehicle class: {', '.join(VEHICLE_CLASSES)}.",
)
@click.option("--entry", required=True, metavar="ISO", help="Entry time with its UTC offset.")
@click.option("--exit", "exit_", required=True, metavar="ISO", help="Exit time with its offset.")
@click.option("--json", "as_json", is_flag=True, help="Print the quote as JSON.")
def quote_command(tariff_name: str, vehicle: str, entry: str, exit_: str, as_json: bool) -> None:
    """Price a stay from --entry to --exit for a --vehicle under --tariff."""
    try:
        tariff = load_tariff(tariff_name)
        quoted = tariff.quote(vehicle, instant("--entry", entry), instant("--exit", exit_))
    except ParkingError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(quoted.as_json(), indent=2, ensure_ascii=False))
    else:
        _print_table(quoted)


@parking.command(name="tariffs")
def tariffs_command() -> None:
    """List the shipped tariffs' names."""
    for name in shipped_tariff_names():
        click.echo(name)


def _money(amount: int, currency: str) -> str:
    try:
        return str(Money(amount, currency))
    except (TicketingError, ValueError):
        return f"{amount} {currency} (minor units)"


def _print_table(quoted: Quote) -> None:
    table = Table(title=f"Parking quote: {quoted.tariff_id}, {quoted.vehicle}")
    for column in ("From", "To", "Rate", "Period", "Amount", "Notes"):
        table.add_column(column, justify="right" if column == "Amount" else "left")
    weeks_after = {repeat.first + repeat.count - 1: repeat for repeat in quoted.repeats}
    for index, segment in enumerate(quoted.segments):
        table.add_row(
            segment.start.isoformat(),
            segment.end.isoformat(),
            segment.rate or "free (no rate applies)",
            "" if segment.period is None else segment.period.isoformat(),
            _money(segment.amount, quoted.currency),
            "capped at the period maximum" if segment.capped else "",
        )
        repeat = weeks_after.get(index)
        if repeat is not None:
            week = quoted.segments[repeat.first : repeat.first + repeat.count]
            copies = repeat.times - 1
            table.add_row(
                (week[0].start + WEEK).isoformat(),
                (week[-1].end + copies * WEEK).isoformat(),
                f"the {len(week)} segments above, {copies:,} more times (weekly)",
                "",
                _money(copies * sum(s.amount for s in week), quoted.currency),
                "",
            )
    console = Console(width=160)
    console.print(table)
    console.print(f"Total: {_money(quoted.amount, quoted.currency)} ({quoted.amount} minor units)")
