"""Shared fixtures: every storage, ledger, payments and settlement test runs on both SQLite and
PostgreSQL through these; and the Hypothesis profiles.

Fixtures (function-scoped unless said, one fresh migrated database per test):

- `db_backend`: "sqlite" or "postgresql" (the parameter).
- `db_url`: a plain URL string of a database already migrated to head, a copy of a template
  migrated once per test process (`tests.helpers.databases`). SQLite: a file in `tmp_path`.
  PostgreSQL: a private schema `fg_test_<hex>` in the server named by
  FAREGATE_TEST_POSTGRES_URL, selected by `?search_path=<schema>` in the URL (understood by
  `ticketing.db.create_engine`, so the string also works for a `faregate --database-url`
  subprocess); the schema is dropped CASCADE afterwards, so parallel runs never collide.
  Being a string, it also suits sync tests (e.g. hypothesis) that open their own engine per
  example with `asyncio.run`.
- `empty_db_url`: the same without any schema (for tests of the migrations themselves).
- `engine`: an `AsyncEngine` on `db_url`, disposed afterwards.
- `uow_factory`: a `ticketing.unit_of_work.UnitOfWorkFactory` on `engine` (real UTC clock).
- `localstripe_server` (session): one private localstripe per test process (gateway and
  payment tests), its state in its own temporary directory.
- `stripe_under_test`: the localstripe the fixtures below talk to; `localstripe_server` unless a
  directory's conftest overrides it (settlement: a private one per test).
- `localstripe_gateway`: a `StripeGateway` on it; `gateway`: the gateway a test's flows use,
  that one unless a directory's conftest overrides it (payments and settlement: the in-memory
  `tests.helpers.fake_gateway.FakeGateway`, localstripe kept for the adapter's contract and
  end-to-end tests); `fault_proxy`: a `FaultProxy` in front of localstripe (idle unless
  told); `proxied_gateway`: a `StripeGateway` through that proxy, whose requests time out
  exactly when the proxy holds them (`tests.helpers.fault_proxy`).
- `unhandled` (every test): the server errors the app answered with a bare 500 while the test
  ran (`tests.helpers.unhandled`); any left at the end fail the test.

PostgreSQL parameters are skipped when FAREGATE_TEST_POSTGRES_URL is unset, unless
FAREGATE_REQUIRE_POSTGRES=1, in which case they fail: CI must not pass without PostgreSQL.

Hypothesis: `make test` (and so CI) runs with `--hypothesis-profile=ci`: each test's examples
derive from its source (derandomize), no example database, no deadline and no health check
that depends on the machine's speed, so a revision that passed once passes again. Other runs
use the "dev" profile: new random examples every run (failures are kept in .hypothesis/ and
tried first next time), still without a deadline, which on a shared 2-core machine measures
the load rather than the code.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import AsyncEngine

from gateways.localstripe_server import LocalStripe, running_localstripe
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import FaultProxy
from tests.helpers.databases import (
    POSTGRES_URL_ENV,
    REQUIRE_POSTGRES_ENV,
    PostgresTemplate,
    SqliteTemplate,
    create_schema,
    drop_schema,
    new_schema_name,
    postgres_required,
    postgres_server_from_env,
    schema_url,
    sqlite_url,
)
from tests.helpers.fault_proxy import gateway_through
from tests.helpers.unhandled import collect_unhandled, describe
from ticketing.db.engine import create_engine
from ticketing.unit_of_work import UnitOfWorkFactory

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile("dev")  # --hypothesis-profile=ci, given, replaces it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests (marked `slow`) first: pytest-xdist hands tests out in order, so each starts
    while the short ones can still fill the other workers around it, rather than one worker
    running a two-minute day alone at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def unhandled() -> Iterator[list[logging.LogRecord]]:
    """Fail a test during which the app logged an unhandled error (a 500 it could not map)."""
    with collect_unhandled() as records:
        yield records
    if records:
        pytest.fail(f"the server answered 500 to an unhandled error: {describe(records)}")


def postgres_server_url() -> str:
    """The PostgreSQL server for tests; skips the test when there is none, or fails it if
    PostgreSQL is required."""
    url = postgres_server_from_env()
    if url:
        return url
    if postgres_required():
        pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_URL_ENV} is not set")
    pytest.skip(f"{POSTGRES_URL_ENV} not set")


class Templates:
    """This test process's migrated templates, each made the first time a test needs it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: SqliteTemplate | None = None
        self._postgres: PostgresTemplate | None = None

    def sqlite(self) -> SqliteTemplate:
        if self._sqlite is None:
            self._sqlite = SqliteTemplate(self._directory)
        return self._sqlite

    def postgres(self, server: str) -> PostgresTemplate:
        if self._postgres is None:
            self._postgres = PostgresTemplate(server)
        return self._postgres

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.close()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("template"))
    yield made
    made.close()


@pytest.fixture
def postgres_template(templates: Templates) -> PostgresTemplate:
    """This test process's PostgreSQL template, for the tests of lending its schemas."""
    return templates.postgres(postgres_server_url())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test, with no schema yet (a private PostgreSQL schema)."""
    if db_backend == "sqlite":
        yield sqlite_url(tmp_path / "faregate.db")
        return
    server = postgres_server_url()
    schema = new_schema_name()
    create_schema(server, schema)
    try:
        yield schema_url(server, schema)
    finally:
        drop_schema(server, schema)


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, templates: Templates) -> Iterator[str]:
    """A database of its own for one test, migrated to head (a copy of the template)."""
    if db_backend == "sqlite":
        yield templates.sqlite().copy(tmp_path)
        return
    server = postgres_server_url()
    template = templates.postgres(server)
    schema = template.lend()
    try:
        yield schema_url(server, schema)
    finally:
        template.give_back(schema)


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


@pytest.fixture
def stripe_under_test(localstripe_server: LocalStripe) -> LocalStripe:
    return localstripe_server


@pytest.fixture
async def localstripe_gateway(stripe_under_test: LocalStripe) -> AsyncIterator[StripeGateway]:
    async with StripeGateway(stripe_under_test.api_key, stripe_under_test.base_url) as gw:
        yield gw


@pytest.fixture
def gateway(localstripe_gateway: StripeGateway) -> StripeGateway:
    return localstripe_gateway


@pytest.fixture
async def fault_proxy(stripe_under_test: LocalStripe) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(stripe_under_test.base_url) as proxy:
        yield proxy


@pytest.fixture
async def proxied_gateway(
    stripe_under_test: LocalStripe, fault_proxy: FaultProxy
) -> AsyncIterator[StripeGateway]:
    """The gateway as a service sees it, through the (idle unless told) fault proxy."""
    async with gateway_through(fault_proxy, stripe_under_test.api_key) as gw:
        yield gw
