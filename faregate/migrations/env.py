"""Alembic environment: migrate on a connection we are handed, or open one from the URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from ticketing.db.engine import create_engine
from ticketing.db.models import all_metadata

config = context.config
target_metadata = all_metadata()


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; give a database URL")

shared = config.attributes.get("connection")
if shared is not None:
    run_migrations(shared)
else:
    asyncio.run(run_from_url(config.get_main_option("sqlalchemy.url") or ""))
