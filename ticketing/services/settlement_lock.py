"""One settlement run of a day at a time: `settlement_lock` takes the day's lock or refuses at
once (`SettlementInProgress`).

PostgreSQL: a session advisory lock keyed by the schema and the day, held on a connection of
its own for the run. SQLite: an exclusive `flock` on `<database file>.settle-DAY.lock`. A run
spans many transactions and gateway calls, so holding SQLite's own write lock for its length
would stall every writer (the payments flows' own transactions too). Both locks die with the
process, so a killed run never blocks the next.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ticketing.settlement.errors import SettlementInProgress

_RUNNING_IN_MEMORY: set[tuple[int, date]] = set()  # (engine, day) of runs on in-memory SQLite


@contextlib.asynccontextmanager
async def settlement_lock(engine: AsyncEngine, day: date) -> AsyncIterator[None]:
    """Exclusive right to settle `day`, or SettlementInProgress at once."""
    refused = SettlementInProgress(f"a settlement of {day} is already running")
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            key = await _advisory_key(connection, day)
            got = await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            await connection.commit()
            if not got:
                raise refused
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await connection.commit()
        return
    path = _lock_file(engine, day)
    if path is None:  # an in-memory database lives in this process only: so does its lock
        running = (id(engine), day)
        if running in _RUNNING_IN_MEMORY:
            raise refused
        _RUNNING_IN_MEMORY.add(running)
        try:
            yield
        finally:
            _RUNNING_IN_MEMORY.discard(running)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise refused from None
        yield
    finally:
        os.close(fd)


async def settlement_running(engine: AsyncEngine, day: date) -> bool:
    """Whether a run of `day` holds its lock now (a day closed but not settled that nobody
    holds was left by a run whose process ended: it is to resume, not "settling")."""
    try:
        async with settlement_lock(engine, day):
            return False
    except SettlementInProgress:
        return True


async def _advisory_key(connection: AsyncConnection, day: date) -> int:
    # Advisory locks are cluster-wide: the schema in the key keeps two Faregate databases (or
    # schemas) on one server from blocking each other's settlements.
    schema = await connection.scalar(text("SELECT current_schema()"))
    digest = hashlib.sha256(f"settle:{schema}:{day}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_file(engine: AsyncEngine, day: date) -> Path | None:
    database = engine.url.database or ""
    return Path(f"{database}.settle-{day}.lock") if database and database != ":memory:" else None
