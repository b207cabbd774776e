"""Open the configured database: create the data directory, migrate to head, return an engine.

The demo, the CLI and the tests all come through here, so they share one schema path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from faregate.config import Settings
from ticketing.db.engine import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would read '%' in passwords as a directive.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _ensure_sqlite_directory(url: str) -> None:
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite" and sa_url.database not in (None, "", ":memory:"):
        Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (creating a SQLite file and its directory)."""
    _ensure_sqlite_directory(url)
    await _migrate(url, command.upgrade, revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` back to `revision`."""
    await _migrate(url, command.downgrade, revision)


async def _migrate(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        step(config, revision)

    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


def database_url(target: Settings | str) -> str:
    return target.effective_database_url if isinstance(target, Settings) else target


async def open_database(target: Settings | str, *, migrate: bool = True) -> AsyncEngine:
    """An engine on the database of `target` (Settings or URL), migrated to head first."""
    if isinstance(target, Settings):
        target.data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url(target)
    if migrate:
        await upgrade(url)
    return create_engine(url)
