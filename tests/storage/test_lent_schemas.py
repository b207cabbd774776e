"""The PostgreSQL test schemas lent from test to test (`tests.helpers.databases`): a schema
comes back emptied to the template's rows, and one whose structure a test changed is dropped
rather than lent again."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.helpers.databases import PostgresTemplate, _libpq_url, run_on_server

pytestmark = pytest.mark.postgres


async def _fetch(server: str, query: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(_libpq_url(server))
    try:
        return [tuple(row) for row in await connection.fetch(query)]
    finally:
        await connection.close()


def _rows(server: str, query: str) -> list[tuple[object, ...]]:
    return asyncio.run(_fetch(server, query))


def test_a_schema_comes_back_with_the_templates_rows_only(
    postgres_template: PostgresTemplate,
) -> None:
    template = postgres_template
    server = template.server
    schema = template.lend()
    run_on_server(
        server,
        f'UPDATE "{schema}".counters SET value = 7;'
        f" INSERT INTO \"{schema}\".counters VALUES ('extra', 1);"
        f" SELECT nextval('\"{schema}\".audit_log_id_seq')",
    )
    template.give_back(schema)

    assert template.lend() == schema
    try:
        assert _rows(server, f'SELECT * FROM "{schema}".counters') == [("deny_list_version", 0)]
        assert _rows(server, f"SELECT nextval('\"{schema}\".audit_log_id_seq')") == [(1,)]
    finally:
        template.give_back(schema)


@pytest.mark.parametrize(
    "change",
    [
        'ALTER TABLE "{schema}".counters ADD COLUMN note text',
        'CREATE INDEX ON "{schema}".counters (value)',
        'DROP TRIGGER audit_log_append_only ON "{schema}".audit_log',
        'DROP TABLE "{schema}".alembic_version',
    ],
)
def test_a_schema_whose_structure_changed_is_dropped(
    postgres_template: PostgresTemplate, change: str
) -> None:
    template = postgres_template
    server = template.server
    schema = template.lend()
    run_on_server(server, change.format(schema=schema))
    template.give_back(schema)

    assert _rows(server, f"SELECT nspname FROM pg_namespace WHERE nspname = '{schema}'") == []
    fresh = template.lend()
    template.give_back(fresh)
    assert fresh != schema
