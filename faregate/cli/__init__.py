"""The `faregate` command: one group whose subcommands live in sibling modules."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from faregate.cli._common import USER_ERRORS
from faregate.cli.db import db
from faregate.cli.demo import demo
from faregate.cli.devices import devices
from faregate.cli.fares import fares
from faregate.cli.keys import keys
from faregate.cli.ledger import ledger
from faregate.cli.lots import lots
from faregate.cli.outbox import outbox
from faregate.cli.parking import parking
from faregate.cli.qr import qr
from faregate.cli.quarantine import quarantine
from faregate.cli.serve import serve
from faregate.cli.settle import settle_command
from faregate.cli.users import users
from faregate.cli.worker import worker
from faregate.config import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FAREGATE_DATA_DIR",
    default="var",
    show_default=True,
    help="Directory for the embedded database, keys and local servers' state.",
)
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="SQLAlchemy URL; default SQLite in the data directory.",
)
@click.option(
    "--redis-url",
    envvar="REDIS_URL",
    default=None,
    help="Redis server; default a private redis-server on a unix socket in the data directory.",
)
@click.option(
    "--outbox",
    "outbox_url",
    envvar="FAREGATE_OUTBOX",
    default=None,
    help="Where messages to riders go: file:PATH; default a file outbox in the data directory.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    data_dir: Path,
    database_url: str | None,
    redis_url: str | None,
    outbox_url: str | None,
) -> None:
    """Faregate: dynamic QR ticketing, fares, ledger and settlement for transit and parking."""
    ctx.obj = Settings(
        data_dir=data_dir, database_url=database_url, redis_url=redis_url, outbox_url=outbox_url
    )


for command in (
    keys, qr, db, fares, ledger, outbox, parking, lots, demo, serve, users, devices, worker,
    settle_command, quarantine,
):  # fmt: skip
    cli.add_command(command)


def main(args: Sequence[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        code = cli.main(args=args, standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except USER_ERRORS as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
