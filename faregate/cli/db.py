"""`faregate db`: Database schema commands (Alembic migrations)."""

from __future__ import annotations

import click


@click.group(name="db")
def db() -> None:
    """Database schema commands (Alembic migrations)."""
