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


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory SQLite."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite" and sa_url.database not in (None, "", ":memory:"):
        return Path(sa_url.database)
    return None


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (creating a SQLite file and its directory)."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
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


def prepare_database_url(target: Settings | str) -> str:
    """The database URL of `target` (Settings or URL), creating the Settings' data directory."""
    if isinstance(target, Settings):
        target.data_dir.mkdir(parents=True, exist_ok=True)
    return database_url(target)


async def open_database(target: Settings | str) -> AsyncEngine:
    """An engine on the database of `target` (Settings or URL), migrated to head first."""
    url = prepare_database_url(target)
    await upgrade(url)
    return create_engine(url)
