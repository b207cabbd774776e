"""`faregate ledger`: Ledger commands: trial balance and invariant checks."""

from __future__ import annotations

import asyncio
import json

import click
from sqlalchemy.exc import DBAPIError

from faregate.config import Settings
from faregate.database import database_url, reachable_engine, sqlite_file
from ticketing.ledger import InvariantReport
from ticketing.services.figures import check_ledger
from ticketing.unit_of_work import UnitOfWorkFactory


@click.group(name="ledger")
def ledger() -> None:
    """Ledger commands: trial balance and invariant checks."""


async def _check(url: str) -> InvariantReport:
    engine = await reachable_engine(url)
    try:
        return await check_ledger(UnitOfWorkFactory(engine))
    finally:
        await engine.dispose()


def _require_database(url: str) -> None:
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise click.ClickException(f"no database at {path}; run `faregate db upgrade` first")


@ledger.command(name="check")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_obj
def check(settings: Settings, as_json: bool) -> None:
    """Trial balance per currency and every ledger invariant; exit 1 if any fails."""
    url = database_url(settings)
    _require_database(url)
    try:
        report = asyncio.run(_check(url))
    except DBAPIError as exc:
        raise click.ClickException(
            f"cannot read the ledger ({exc.orig}); is the schema migrated (`faregate db upgrade`)?"
        ) from exc
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print(report)
    if not report.ok:
        raise click.exceptions.Exit(1)


def _print(report: InvariantReport) -> None:
    click.echo("trial balance:" if report.trial_balance.totals else "trial balance: no entries")
    for currency, totals in sorted(report.trial_balance.totals.items()):
        mark = "ok" if totals.net == 0 else "FAIL"
        click.echo(
            f"  {currency}: debits {totals.debits:,} credits {totals.credits:,} "
            f"net {totals.net:,} [{mark}]"
        )
    for item in report.checks:
        detail = f" - {item.detail}" if item.detail else ""
        click.echo(f"{item.name}: {'ok' if item.ok else 'FAIL'}{detail}")
    click.echo("ledger OK" if report.ok else "ledger FAILED")
