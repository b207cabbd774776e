"""`faregate users`: staff users of the HTTP API (operators, finance, parking inspectors).

    faregate users add alice --role finance                 # prompts for the password twice
    faregate users add ops --role operator --password-file ops.pw
    faregate users sign-out alice                           # revoke every token of alice

Passengers are not created here: they register through the passenger API. The password file's
first line is the password (a trailing newline is not part of it). Both commands are in the
audit log, done by an administrator named by the login that ran them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from faregate.cli._common import administrator
from faregate.config import Settings
from faregate.database import open_database
from ticketing.services.users import create_user, revoke_all_tokens
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import UserRole

STAFF_ROLES = (UserRole.OPERATOR.value, UserRole.FINANCE.value, UserRole.INSPECTOR.value)


@click.group(name="users")
def users() -> None:
    """Staff users of the HTTP API (operators, finance and parking inspectors)."""


def _read_password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read the password file {path}: {exc}") from exc
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise click.ClickException(f"the password file {path} has no password on its first line")
    return lines[0]


async def _add(settings: Settings, username: str, password: str, role: UserRole) -> None:
    engine = await open_database(settings)
    try:
        await create_user(
            UnitOfWorkFactory(engine), username, password, role,
            cost=settings.password_cost, by=administrator(),
        )  # fmt: skip
    finally:
        await engine.dispose()


async def _sign_out(settings: Settings, username: str) -> int:
    engine = await open_database(settings)
    try:
        return await revoke_all_tokens(UnitOfWorkFactory(engine), username, by=administrator())
    finally:
        await engine.dispose()


@users.command(name="add")
@click.argument("username")
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True, help="The user's role.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the password from this file's first line instead of prompting.",
)
@click.pass_obj
def add(settings: Settings, username: str, role: str, password_file: Path | None) -> None:
    """Create an operator or finance user who signs in at POST /api/v1/sessions."""
    if password_file is not None:
        password = _read_password(password_file)
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    asyncio.run(_add(settings, username, password, UserRole(role)))
    click.echo(f"created {role} user {username}")


@users.command(name="sign-out")
@click.argument("username")
@click.pass_obj
def sign_out(settings: Settings, username: str) -> None:
    """Revoke every bearer token of a user (they must sign in again)."""
    revoked = asyncio.run(_sign_out(settings, username))
    click.echo(f"revoked {revoked} token(s) of {username}")
