"""Engines and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite gets WAL, foreign keys, a busy timeout and `BEGIN IMMEDIATE` transactions: writers queue
for the lock at BEGIN instead of failing mid-transaction when a snapshot went stale. As every
transaction, a read too, holds SQLite's one write lock, an engine on a database file keeps one
connection: a process's transactions then wait their turn in the pool's queue, first come first
served, instead of in SQLite's busy handler, which sleeps up to 100 ms between looks at the
lock, so a task that commits and begins again at once (a pricing worker's cycles) took the
lock back before the sleepers woke and kept requests waiting for seconds. Other processes on
the same file (a `faregate worker`, a CLI command) still wait in the busy handler.
PostgreSQL URLs may carry `?search_path=SCHEMA` (stripped and sent as a server setting), which
lets one plain URL string name a private schema, e.g. for a test run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _postgres_args(url: URL) -> tuple[URL, dict[str, Any]]:
    schema = url.query.get("search_path")
    if not schema:
        return url, {}
    if not isinstance(schema, str):
        raise ValueError("give search_path once in a database URL")
    return url.difference_update_query(["search_path"]), {
        "server_settings": {"search_path": schema}
    }


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see "begin" below) instead of pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for a `sqlite+aiosqlite://` or `postgresql+asyncpg://` URL."""
    sa_url = make_url(url)
    backend = sa_url.get_backend_name()
    if backend == "postgresql":
        sa_url, connect_args = _postgres_args(sa_url)
        kwargs.setdefault("connect_args", {}).update(connect_args)
        return _create_async_engine(sa_url, **kwargs)
    if backend == "sqlite":
        if "poolclass" not in kwargs and not _in_memory(sa_url):
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
        engine = _create_async_engine(sa_url, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    raise ValueError(
        f"unsupported database {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg"
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
