"""The few statements that differ between SQLite and PostgreSQL, behind one function each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    String,
    Table,
    bindparam,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator, TypeEngine

T = TypeVar("T")

# Both servers allow ~32k bound parameters per statement; stay well under for IN (...) lists.
IN_LIST_CHUNK = 5_000


def dialect_name(session: AsyncSession) -> str:
    bind = session.bind
    if bind is None:
        raise RuntimeError("session is not bound to an engine")
    return bind.dialect.name


def insert_or_skip(session: AsyncSession, table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING (any unique constraint) for the session's database."""
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def chunks(items: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# PostgreSQL array types for the column types we use; bulk statements send one array per
# column and expand them with unnest(): one round trip and one plan for any number of rows.
_PG_ARRAYS: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Boolean, "bool"),
    (DateTime, "timestamptz"),
    (Date, "date"),
    (JSON, "text"),  # sent as text, cast to json per row
    (String, "text"),
)


def _pg_array_type(column: Column[Any]) -> tuple[str, str]:
    """(array element type, cast applied to each unnested value) for a column."""
    column_type = column.type
    impl = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
    for python_type, pg_type in _PG_ARRAYS:
        if isinstance(impl, python_type):
            return pg_type, "::json" if isinstance(impl, JSON) else ""
    raise TypeError(f"no bulk array type for column {column.name} ({column_type})")


def _pg_columns(
    session: AsyncSession, table: Table, names: Sequence[str]
) -> tuple[list[str], list[Any]]:
    dialect = session.get_bind().dialect
    types, processors = [], []
    for name in names:
        column = table.c[name]
        types.append(_pg_array_type(column))
        processors.append(column.type.dialect_impl(dialect).bind_processor(dialect))
    return [f"${i + 1}::{t}[]" for i, (t, _) in enumerate(types)], [
        (cast, proc) for (_, cast), proc in zip(types, processors, strict=True)
    ]


async def _driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def _arrays(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], processors: Sequence[Any]
) -> list[list[Any]]:
    arrays = []
    for name, (_, proc) in zip(names, processors, strict=True):
        values = [row[name] for row in rows]
        arrays.append([proc(v) for v in values] if proc is not None else values)
    return arrays


@dataclass(frozen=True, slots=True)
class Upsert:
    """What a bulk insert does with a row whose `key` (a unique constraint's columns) is
    already stored: set the stored row's `replace` columns to the new row's values."""

    key: Sequence[str]
    replace: Sequence[str]


async def bulk_insert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts: bool = False,
    upsert: Upsert | None = None,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert many rows in one statement (unnest on PostgreSQL, executemany on SQLite),
    optionally skipping rows that hit a unique constraint, or updating the row they hit
    (`upsert`), and returning some columns of the rows inserted (as the database stores them:
    no type processing on the way back). Plain inserts on PostgreSQL use binary COPY, the
    cheapest way in for many rows. The SQL text depends only on the columns, never on the
    number of rows, so PostgreSQL prepares it once per connection and nothing is compiled per
    call (a multi-row VALUES statement cost more to compile than to run)."""
    if not rows:
        return []
    if skip_conflicts and upsert is not None:
        raise ValueError("skip_conflicts and upsert exclude each other")
    if dialect_name(session) != "postgresql":
        statement: Insert = insert_or_skip(session, table) if skip_conflicts else table.insert()
        if upsert is not None:
            upserting = sqlite.insert(table)
            statement = upserting.on_conflict_do_update(
                index_elements=[table.c[n] for n in upsert.key],
                set_={n: upserting.excluded[n] for n in upsert.replace},
            )
        if returning:
            result = await session.execute(
                statement.returning(*(table.c[n] for n in returning)), list(rows)
            )
            return [tuple(row) for row in result]
        await session.execute(statement, list(rows))
        return []
    names = list(rows[0])
    params, processors = _pg_columns(session, table, names)
    driver = await _driver(session)
    if not skip_conflicts and upsert is None and not returning:
        columns = _arrays(rows, names, processors)
        records = list(zip(*columns, strict=True))
        await driver.copy_records_to_table(table.name, records=records, columns=names)
        return []
    quoted = ", ".join(f'"{n}"' for n in names)
    selected = ", ".join(f'"{n}"{cast}' for n, (cast, _) in zip(names, processors, strict=True))
    sql = (
        f'INSERT INTO "{table.name}" ({quoted}) SELECT {selected} '
        f"FROM unnest({', '.join(params)}) AS t({quoted})"
    )
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if upsert is not None:
        key = ", ".join(f'"{n}"' for n in upsert.key)
        replace = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in upsert.replace)
        sql += f" ON CONFLICT ({key}) DO UPDATE SET {replace}"
    arrays = _arrays(rows, names, processors)
    if returning:
        sql += " RETURNING " + ", ".join(f'"{n}"' for n in returning)
        return [tuple(record) for record in await driver.fetch(sql, *arrays)]
    await driver.execute(sql, *arrays)
    return []


async def bulk_update(
    session: AsyncSession, table: Table, key: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """UPDATE many rows by primary key, each row giving the key and the new values."""
    if not rows:
        return
    names = list(rows[0])
    values = [n for n in names if n != key]
    if dialect_name(session) != "postgresql":
        await session.execute(
            update(table)
            .where(table.c[key] == bindparam(f"k_{key}"))
            .values({n: bindparam(f"k_{n}") for n in values}),
            [{f"k_{n}": row[n] for n in names} for row in rows],
            execution_options={"synchronize_session": False},
        )
        return
    params, processors = _pg_columns(session, table, names)
    quoted = ", ".join(f'"{n}"' for n in names)
    assignments = ", ".join(f'"{n}" = u."{n}"{processors[names.index(n)][0]}' for n in values)
    sql = (
        f'UPDATE "{table.name}" AS target SET {assignments} '
        f"FROM unnest({', '.join(params)}) AS u({quoted}) "
        f'WHERE target."{key}" = u."{key}"'
    )
    driver = await _driver(session)
    await driver.execute(sql, *_arrays(rows, names, processors))
