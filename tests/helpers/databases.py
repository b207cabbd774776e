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
  The replay costs the server about 90 ms of CPU and dropping the schema about 20 ms, so a
  test's schema is emptied afterwards and lent to the next test of the process instead (about
  6 ms): unless the test changed the schema's structure, or a session of the server still holds
  a lock in it; such a schema is dropped as before.

Tests of the migrations themselves use `empty_db_url` (tests/conftest.py) and run Alembic.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Sequence
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
        self._spare: tuple[str, str] | None = None  # an emptied schema and its fingerprint
        self._lent: str | None = None  # the fingerprint of the schema lent out
        create_schema(server, self.schema)
        try:
            asyncio.run(upgrade(schema_url(server, self.schema)))
            self._script = _clone_script(server, self.schema)
            self._rows = asyncio.run(_rows_script(server, self.schema, self._script))
            self._relations = asyncio.run(_relations(server, self.schema))
        except BaseException:
            drop_schema(server, self.schema)
            raise

    def clone(self, schema: str) -> str:
        """Schema `schema`, a copy of the template (tables, constraints, triggers, functions,
        sequences and rows); its URL."""
        run_on_server(self.server, self._script.replace(self.schema, schema))
        return schema_url(self.server, schema)

    def lend(self) -> str:
        """A schema as the template made it for one test: one a previous test gave back, or a
        new clone. Give it back with `give_back`."""
        if self._spare is None:
            schema = new_schema_name()
            self.clone(schema)
            self._spare = (schema, asyncio.run(_fingerprint(self.server, schema, self._relations)))
        schema, self._lent = self._spare
        self._spare = None
        return schema

    def give_back(self, schema: str) -> None:
        """Empty `schema` for the next test, or drop it if it cannot be trusted to be as the
        template made it."""
        fingerprint, self._lent = self._lent, None
        try:
            emptied = asyncio.run(self._reset(schema, fingerprint))
        except asyncpg.PostgresError:  # e.g. a lock a session took after the look for locks
            emptied = False
        if emptied:
            self._spare = (schema, fingerprint)
        else:
            drop_schema(self.server, schema)

    async def _reset(self, schema: str, fingerprint: str | None) -> bool:
        connection = await asyncpg.connect(_libpq_url(self.server))
        try:
            async with connection.transaction():
                locked = await connection.fetchval(_OTHERS_LOCKS, schema)
                if (
                    locked
                    or await _fingerprint_on(connection, schema, self._relations) != fingerprint
                ):
                    return False
                # Replica mode turns off the triggers: the append-only tables' refusals and the
                # foreign keys (every table is emptied, so their order does not matter).
                await connection.execute("SET LOCAL session_replication_role = replica")
                await connection.execute("SET LOCAL lock_timeout = '5s'")
                await connection.execute(self._rows.replace(self.schema, schema))
            return True
        finally:
            await connection.close()

    def close(self) -> None:
        if self._spare is not None:
            drop_schema(self.server, self._spare[0])
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


# The catalog rows describing the schema's relations (found by name, through the catalog's
# indexes: a scan of pg_class by schema costs tens of ms on a server whose tests made and
# dropped thousands of tables), their columns, defaults, triggers, constraints and indexes, and
# the schema's functions, each with the transaction that last wrote it: any DDL in a test (a
# downgrade, an altered table or trigger) changes it. VACUUM and ANALYZE update these rows in
# place, which does not.
_FINGERPRINT = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
rel AS (SELECT oid, relname, xmin FROM pg_class
    WHERE relname = ANY($2::name[]) AND relnamespace = (SELECT oid FROM ns))
SELECT md5(string_agg(item, ',' ORDER BY item)) FROM (
    SELECT 'c' || relname || ':' || oid || ':' || xmin FROM rel
    UNION ALL SELECT 'a' || attrelid || ':' || attnum || ':' || xmin FROM pg_attribute
        WHERE attrelid = ANY(ARRAY(SELECT oid FROM rel))
    UNION ALL SELECT 'd' || oid || ':' || xmin FROM pg_attrdef
        WHERE adrelid = ANY(ARRAY(SELECT oid FROM rel))
    UNION ALL SELECT 't' || oid || ':' || xmin FROM pg_trigger
        WHERE tgrelid = ANY(ARRAY(SELECT oid FROM rel))
    UNION ALL SELECT 'k' || oid || ':' || xmin FROM pg_constraint
        WHERE conrelid = ANY(ARRAY(SELECT oid FROM rel))
    UNION ALL SELECT 'i' || indexrelid || ':' || xmin FROM pg_index
        WHERE indrelid = ANY(ARRAY(SELECT oid FROM rel))
    UNION ALL SELECT 'p' || oid || ':' || xmin FROM pg_proc
        WHERE pronamespace = (SELECT oid FROM ns)
) AS catalog(item)
"""
# A session other than ours holding a lock on something in the schema: a test's server or
# engine still at work, which could write into the next test's tables.
_OTHERS_LOCKS = """
SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()
"""


async def _fingerprint_on(
    connection: asyncpg.Connection, schema: str, relations: Sequence[str]
) -> str:
    return str(await connection.fetchval(_FINGERPRINT, schema, list(relations)))


async def _fingerprint(server: str, schema: str, relations: Sequence[str]) -> str:
    connection = await asyncpg.connect(_libpq_url(server))
    try:
        return await _fingerprint_on(connection, schema, relations)
    finally:
        await connection.close()


async def _relations(server: str, schema: str) -> list[str]:
    """The names of the schema's tables, indexes and sequences."""
    connection = await asyncpg.connect(_libpq_url(server))
    try:
        rows = await connection.fetch(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1",
            schema,
        )
    finally:
        await connection.close()
    return sorted(row["relname"] for row in rows)


async def _rows_script(server: str, schema: str, script: str) -> str:
    """What puts the template's rows back into an emptied copy: every table emptied, then the
    dump's own INSERTs and sequence positions (the rows the migrations insert)."""
    connection = await asyncpg.connect(_libpq_url(server))
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema
        )
    finally:
        await connection.close()
    deletes = [f'DELETE FROM "{schema}"."{row["tablename"]}";' for row in tables]
    rows = [
        line
        for line in script.splitlines()
        if line.startswith(("INSERT INTO ", "SELECT pg_catalog.setval("))
    ]
    return "\n".join([*deletes, *rows])


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
