"""Alembic environment: migrate on the connection `faregate.database` hands us.

There is no alembic.ini: migrations run only through `faregate db upgrade` (or
`faregate.database.upgrade`), which opens the connection and puts it in the config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import parking.db  # noqa: F401  (registers parking's tables on the same metadata)
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


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; use `faregate db upgrade`")

shared = config.attributes.get("connection")
if shared is None:
    raise SystemExit("no database connection given; run migrations with `faregate db upgrade`")
run_migrations(shared)
