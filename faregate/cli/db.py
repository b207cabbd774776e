"""`faregate db`: Database schema commands (Alembic migrations)."""

from __future__ import annotations

import asyncio

import click

from faregate.config import Settings
from faregate.database import display_url, prepare_database_url, upgrade


@click.group(name="db")
def db() -> None:
    """Database schema commands (Alembic migrations)."""


@db.command(name="upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to reach.")
@click.pass_obj
def upgrade_command(settings: Settings, revision: str) -> None:
    """Create the data directory and migrate the database to the latest schema."""
    url = prepare_database_url(settings)
    asyncio.run(upgrade(url, revision))
    click.echo(f"database at {revision}: {display_url(url)}")
