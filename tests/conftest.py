"""Shared database fixtures: every storage, ledger, payments and settlement test runs on both
SQLite and PostgreSQL through these.

Fixtures (all function-scoped, one fresh migrated database per test):

- `db_backend`: "sqlite" or "postgresql" (the parameter).
- `db_url`: a plain URL string of a database already migrated to head. SQLite: a file in
  `tmp_path`. PostgreSQL: a private schema `fg_test_<hex>` in the server named by
  FAREGATE_TEST_POSTGRES_URL, selected by `?search_path=<schema>` in the URL (understood by
  `ticketing.db.create_engine`, so the string also works for a `faregate --database-url`
  subprocess); the schema is dropped CASCADE afterwards, so parallel runs never collide.
  Being a string, it also suits sync tests (e.g. hypothesis) that open their own engine per
  example with `asyncio.run`.
- `engine`: an `AsyncEngine` on `db_url`, disposed afterwards.
- `uow_factory`: a `ticketing.unit_of_work.UnitOfWorkFactory` on `engine` (real UTC clock).
- `localstripe_server`: one private localstripe for the test session (gateway and payment
  tests), its state in its own temporary directory.

PostgreSQL parameters are skipped when FAREGATE_TEST_POSTGRES_URL is unset, unless
FAREGATE_REQUIRE_POSTGRES=1, in which case they fail: CI must not pass without PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from faregate.database import upgrade
from gateways.localstripe_server import LocalStripe, running_localstripe
from ticketing.db.engine import create_engine
from ticketing.unit_of_work import UnitOfWorkFactory

POSTGRES_URL_ENV = "FAREGATE_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "FAREGATE_REQUIRE_POSTGRES"


def postgres_server_url() -> str | None:
    """The PostgreSQL URL for tests, or None (skip) — or fail if PostgreSQL is required."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_URL_ENV} is not set")
    pytest.skip(f"{POSTGRES_URL_ENV} not set")


async def _run_on_server(url: str, statement: str) -> None:
    sa_url = make_url(url).set(drivername="postgresql")
    connection = await asyncpg.connect(sa_url.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test, with no schema yet (a private PostgreSQL schema)."""
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'faregate.db'}"
        return
    server = postgres_server_url()
    assert server is not None
    schema = f"fg_test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_run_on_server(server, f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(server).update_query_dict({"search_path": schema})
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_run_on_server(server, f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """`empty_db_url` migrated to head."""
    asyncio.run(upgrade(empty_db_url))
    return empty_db_url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(engine)


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    with running_localstripe(tmp_path_factory.mktemp("localstripe")) as server:
        yield server
