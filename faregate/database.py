"""Open the configured database: create the data directory, migrate to head, return an engine.

The demo, the CLI and the tests all come through here, so they share one schema path.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from faregate.config import Settings
from faregate.errors import DatabaseUnavailable, DatabaseUrlError, MigrationError
from ticketing.unit_of_work import create_engine

# The drivers Faregate runs on: the embedded default and production.
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would read '%' in passwords as a directive.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def parse_database_url(url: str) -> URL:
    """The parsed URL, refusing what cannot name a database Faregate runs on."""
    try:
        sa_url = make_url(url)
    except (ArgumentError, ValueError) as exc:
        # Not echoed: a URL that does not parse may still hold a password.
        raise DatabaseUrlError(
            f"not a database URL ({exc}); e.g. sqlite+aiosqlite:///var/faregate.db "
            "or postgresql+asyncpg://user@host/db"
        ) from None
    if sa_url.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseUrlError(
            f"unsupported database driver {sa_url.drivername!r}: use "
            + " or ".join(SUPPORTED_DRIVERS)
        )
    if sa_url.port is not None and not 0 < sa_url.port < 65536:
        raise DatabaseUrlError(f"port {sa_url.port} is not a TCP port: {_display(sa_url)}")
    if "\x00" in (sa_url.database or ""):
        raise DatabaseUrlError("the database name or path holds a NUL character")
    # A unix-socket URL names its host in the query (`...@/db?host=/run/postgresql`).
    has_host = bool(sa_url.host) or "host" in sa_url.query
    if sa_url.drivername.startswith("postgresql") and not (has_host and sa_url.database):
        raise DatabaseUrlError(f"a PostgreSQL URL needs a host and a database: {_display(sa_url)}")
    return sa_url


def _display(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def display_url(url: str) -> str:
    """The URL as it may be shown: without its password."""
    return _display(parse_database_url(url))


@asynccontextmanager
async def connected(url: str, **engine_options: object) -> AsyncIterator[AsyncConnection]:
    """A connection to the database at `url`; DatabaseUnavailable when none can be made.

    Only connecting is translated: an error in the work done on the connection stays what it is.
    """
    path = sqlite_file(url)
    if path is not None:
        _check_sqlite_file(path)
    engine = create_engine(url, **engine_options)
    try:
        try:
            connection = await engine.connect()
        except (OSError, DBAPIError) as exc:
            reason = exc.orig if isinstance(exc, DBAPIError) else exc
            raise DatabaseUnavailable(f"cannot connect to {display_url(url)}: {reason}") from None
        try:
            yield connection
        finally:
            await connection.close()
    finally:
        await engine.dispose()


SQLITE_HEADER = b"SQLite format 3\x00"


def _check_sqlite_file(path: Path) -> None:
    """Refuse a path SQLite could not open as a database, before aiosqlite's thread tries.

    (A failed open inside aiosqlite leaves its worker thread behind, calling back into an
    event loop that has gone.)
    """
    if not path.parent.is_dir():
        raise DatabaseUnavailable(f"cannot open {path}: {path.parent} is not a directory")
    if path.is_dir():
        raise DatabaseUnavailable(f"cannot open {path}: it is a directory")
    if path.exists():
        try:
            with path.open("rb") as db:
                header = db.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot open {path}: {exc.strerror or exc}") from None
        if header and header != SQLITE_HEADER:
            raise DatabaseUnavailable(f"cannot open {path}: not a SQLite database")


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory SQLite."""
    sa_url = parse_database_url(url)
    if sa_url.get_backend_name() == "sqlite" and sa_url.database not in (None, "", ":memory:"):
        return Path(sa_url.database)
    return None


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (creating a SQLite file and its directory)."""
    path = sqlite_file(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create {path.parent}: {exc.strerror or exc}"
            ) from None
    await _migrate(url, command.upgrade, revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` back to `revision`."""
    await _migrate(url, command.downgrade, revision)


_RELATIVE = re.compile(r".+[+-][0-9]+")


async def _migrate(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        step(config, revision)

    async with connected(url, poolclass=NullPool) as connection:
        try:
            async with connection.begin():
                await connection.run_sync(run)
        except CommandError as exc:  # e.g. a revision the migrations do not have
            raise MigrationError(f"cannot migrate to {revision!r}: {exc}") from None
        except AssertionError:
            # Alembic asserts, rather than raising CommandError, when a revision relative to
            # a named one (head+5, base+20, 0003-9) steps past either end of the history.
            if not _RELATIVE.fullmatch(revision):
                raise
            raise MigrationError(
                f"cannot migrate to {revision!r}: it steps past the first or last migration"
            ) from None


def database_url(target: Settings | str) -> str:
    """The database URL of `target` (Settings or URL), checked by parse_database_url."""
    url = target.effective_database_url if isinstance(target, Settings) else target
    parse_database_url(url)
    return url


def prepare_database_url(target: Settings | str) -> str:
    """The database URL of `target` (Settings or URL), creating the Settings' data directory."""
    url = database_url(target)
    if isinstance(target, Settings):
        try:
            target.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create the data directory {target.data_dir}: {exc.strerror or exc}"
            ) from None
    return url


async def open_database(target: Settings | str) -> AsyncEngine:
    """An engine on the database of `target` (Settings or URL), migrated to head first."""
    url = prepare_database_url(target)
    if not await _at_head(url):
        await upgrade(url)
    return create_engine(url)


@functools.cache
def _heads() -> frozenset[str]:
    """The migrations' heads. Loading the scripts compiles every migration module (about 0.1 s
    of CPU), which an upgrade does each time: a process that opens databases already at head
    (every test's app, every CLI command after the first) reads them once."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


async def _at_head(url: str) -> bool:
    def current(connection: Connection) -> frozenset[str]:
        return frozenset(MigrationContext.configure(connection).get_current_heads())

    async with connected(url, poolclass=NullPool) as connection:
        return await connection.run_sync(current) == _heads()


async def check_reachable(url: str) -> None:
    """Connect once to `url`: DatabaseUrlError or DatabaseUnavailable if that cannot be done."""
    async with connected(url, poolclass=NullPool):
        pass


async def reachable_engine(url: str) -> AsyncEngine:
    """An engine on `url` once one connection has been made (DatabaseUnavailable if not)."""
    await check_reachable(url)
    return create_engine(url)
