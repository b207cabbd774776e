"""Test databases: migrated once per test process, then copied for every test.

Migrating takes about a quarter of a second (eight Alembic revisions), and about 500 tests
want a database of their own. So each test process (each pytest-xdist worker) migrates one
template per backend, the first time a test asks for it, and every test gets a copy:

- SQLite: the template is a migrated file; a test's database is a copy of it (a millisecond).
- PostgreSQL: the template is a migrated schema `fg_template_<hex>`; a test's database is a
  private schema `fg_test_<hex>` made by replaying the template's `pg_dump` (its DDL and the
  rows the migrations insert) under the new name, in one round trip. The schema names are
  random, so test processes and concurrent runs on one server never meet. pg_dump comes with
  the PostgreSQL client tools (as does pg_isready, which scripts/check-services uses).

Tests of the migrations themselves use `empty_db_url` (tests/conftest.py) and run Alembic.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from faregate.database import upgrade
from tests.helpers.waiting import until
from ticketing.unit_of_work import UnitOfWorkFactory

POSTGRES_URL_ENV = "FAREGATE_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "FAREGATE_REQUIRE_POSTGRES"
SQLITE_NAME = "faregate.db"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def schema_url(server: str, schema: str) -> str:
    """`server`'s URL selecting `schema` (see `ticketing.db.engine`): a plain string that also
    works for a `faregate --database-url` subprocess."""
    url = make_url(server).update_query_dict({"search_path": schema})
    return url.render_as_string(hide_password=False)


def new_schema_name(kind: str = "test") -> str:
    return f"fg_{kind}_{uuid.uuid4().hex[:16]}"


def _libpq_url(server: str) -> str:
    """The server URL as asyncpg and pg_dump read it (no SQLAlchemy driver name)."""
    url = make_url(server).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def _execute(server: str, statement: str) -> None:
    connection = await asyncpg.connect(_libpq_url(server))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def run_on_server(server: str, statement: str) -> None:
    """Run one statement (or several, `;`-separated) on the PostgreSQL server."""
    asyncio.run(_execute(server, statement))


def create_schema(server: str, schema: str) -> None:
    run_on_server(server, f'CREATE SCHEMA "{schema}"')


def drop_schema(server: str, schema: str) -> None:
    run_on_server(server, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class SqliteTemplate:
    """A migrated SQLite file, copied for each test."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / SQLITE_NAME
        asyncio.run(upgrade(sqlite_url(self.path)))
        # The migrations' engine is gone, so SQLite has checkpointed its write-ahead log into
        # the file: the file alone is the whole database.
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            raise RuntimeError(f"the SQLite template left a write-ahead log behind: {wal}")

    def copy(self, directory: Path) -> str:
        """A migrated database of its own in `directory`; its URL."""
        target = directory / SQLITE_NAME
        shutil.copyfile(self.path, target)
        return sqlite_url(target)


class PostgresTemplate:
    """A migrated schema on the test server, cloned for each test."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.schema = new_schema_name("template")
        create_schema(server, self.schema)
        try:
            asyncio.run(upgrade(schema_url(server, self.schema)))
            self._script = _clone_script(server, self.schema)
        except BaseException:
            drop_schema(server, self.schema)
            raise

    def clone(self, schema: str) -> str:
        """Schema `schema`, a copy of the template (tables, constraints, triggers, functions,
        sequences and rows); its URL."""
        run_on_server(self.server, self._script.replace(self.schema, schema))
        return schema_url(self.server, schema)

    def close(self) -> None:
        drop_schema(self.server, self.schema)


def _clone_script(server: str, schema: str) -> str:
    """The template schema as one SQL script naming it `schema` (a random name, so replacing
    it replaces nothing else)."""
    dump = subprocess.run(
        [
            "pg_dump", "--dbname", _libpq_url(server), "--schema", schema,
            "--no-owner", "--no-privileges", "--inserts",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if dump.returncode != 0:
        raise RuntimeError(f"pg_dump of the template schema failed: {dump.stderr.strip()}")
    # psql meta-commands (`\restrict`, `\connect`) are not SQL; the server never sees them.
    script = "\n".join(line for line in dump.stdout.splitlines() if not line.startswith("\\"))
    if not re.search(rf'CREATE SCHEMA "?{schema}"?;', script):
        raise RuntimeError("pg_dump of the template schema did not create it")
    return script


def postgres_server_from_env() -> str | None:
    """FAREGATE_TEST_POSTGRES_URL, or None when it is unset."""
    return os.environ.get(POSTGRES_URL_ENV) or None


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_POSTGRES_ENV) == "1"


async def wait_until_blocking(uow_factory: UnitOfWorkFactory, holder: AsyncSession) -> None:
    """Return once another session of the PostgreSQL server waits for a lock that `holder`'s
    transaction holds (pg_blocking_pids names the holder's backend). Sessions of other tests
    and runs on the same server are never counted."""
    pid = await holder.scalar(text("SELECT pg_backend_pid()"))

    async def blocked() -> bool:
        async with uow_factory.engine.connect() as connection:
            count = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
                ),
                {"pid": pid},
            )
        return bool(count)

    await until(blocked, f"another session waits for a lock of backend {pid}")
