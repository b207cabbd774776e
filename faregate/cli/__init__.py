"""The `faregate` command: one group whose subcommands live in sibling modules."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from faregate.cli._common import USER_ERRORS
from faregate.config import Settings
from ticketing.users import DEFAULT_COST, MAX_SCRYPT_N, ScryptCost


def _scrypt_n(_ctx: click.Context, param: click.Parameter, value: int) -> int:
    if not 2 <= value <= MAX_SCRYPT_N or value & (value - 1):
        raise click.BadParameter(
            f"{value} is not a power of two from 2 to {MAX_SCRYPT_N}", param=param
        )
    return value


# Each command's module, imported when that command runs (or `--help` lists them): the
# whole backend takes about 2 s of CPU to import, which a `faregate qr verify` or `faregate
# parking quote` process has no use for.
COMMANDS = {
    "keys": "faregate.cli.keys:keys",
    "qr": "faregate.cli.qr:qr",
    "db": "faregate.cli.db:db",
    "fares": "faregate.cli.fares:fares",
    "ledger": "faregate.cli.ledger:ledger",
    "outbox": "faregate.cli.outbox:outbox",
    "parking": "faregate.cli.parking:parking",
    "lots": "faregate.cli.lots:lots",
    "demo": "faregate.cli.demo:demo",
    "serve": "faregate.cli.serve:serve",
    "users": "faregate.cli.users:users",
    "devices": "faregate.cli.devices:devices",
    "worker": "faregate.cli.worker:worker",
    "settle": "faregate.cli.settle:settle_command",
    "quarantine": "faregate.cli.quarantine:quarantine",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported by name from `COMMANDS` when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "--scrypt-n",
    envvar="FAREGATE_SCRYPT_N",
    type=int,
    default=DEFAULT_COST.n,
    show_default=True,
    callback=_scrypt_n,
    help="scrypt's work factor for new password hashes and unknown users' sign-ins: a power "
    "of two; lower only for tests.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    data_dir: Path,
    database_url: str | None,
    redis_url: str | None,
    outbox_url: str | None,
    scrypt_n: int,
) -> None:
    """Faregate: dynamic QR ticketing, fares, ledger and settlement for transit and parking."""
    ctx.obj = Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        outbox_url=outbox_url,
        password_cost=ScryptCost(n=scrypt_n),
    )


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
