"""The few statements that differ between SQLite and PostgreSQL, behind one function each."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
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
    any_,
    bindparam,
    or_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.elements import ColumnElement
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


def insert_or_add(
    session: AsyncSession, table: Table, keys: Sequence[str], counters: Sequence[str]
) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE adding the new row's `counters` to the stored
    row's, for the session's database: a running count kept in one statement."""
    if dialect_name(session) == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: table.c[name] + pg.excluded[name] for name in counters},
        )
    lite = sqlite.insert(table)
    return lite.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + lite.excluded[name] for name in counters},
    )


def chunks(items: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(
    session: AsyncSession, column: ColumnElement[T], values: Sequence[T]
) -> Iterator[ColumnElement[bool]]:
    """Conditions that, one query each, select the rows whose `column` is one of `values`.
    On PostgreSQL one `column = ANY(:array)`: the same SQL text for any number of values, so
    it is prepared once per connection; an IN list of as many parameters as values is
    expanded and compiled again on every call and prepared again for every new length (an
    upload's credentials, a few hundred, cost more that way than their index reads).
    Elsewhere IN lists of at most `IN_LIST_CHUNK` values."""
    if not values:
        return
    if dialect_name(session) == "postgresql":
        array = bindparam("among", list(values), type_=postgresql.ARRAY(column.type), unique=True)
        yield column == any_(array)
        return
    for chunk in chunks(values):
        yield column.in_(chunk)


S = TypeVar("S")


def once_per_dialect(build: Callable[[str], S]) -> Callable[[AsyncSession], S]:
    """A statement built by `build(dialect name)` once per dialect and reused: SQLAlchemy
    computes a statement's cache key once per statement object, so one built for every
    execution pays for that (and for being built) every time, about half the Python cost of a
    small query (`PaymentRecords.locked_attempts` of 3 ids: 0.15-0.2 ms of 0.32-0.34 on
    PostgreSQL, 0.2-0.35 ms of 0.5-0.7 on SQLite).
    The statement's values are bound at execution (`any_of`)."""
    built: dict[str, S] = {}

    def statement(session: AsyncSession) -> S:
        dialect = dialect_name(session)
        found = built.get(dialect)
        if found is None:
            found = built[dialect] = build(dialect)
        return found

    return statement


def any_of(dialect: str, column: ColumnElement[T], name: str = "among") -> ColumnElement[bool]:
    """`among`'s condition for a statement built once (`once_per_dialect`): the values are
    bound as the list `name`, one execution per list of `value_lists`."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def value_lists(session: AsyncSession, values: Sequence[T]) -> Iterator[list[T]]:
    """The lists of values to bind to an `any_of` condition, one execution each (as `among`:
    all at once on PostgreSQL, `IN_LIST_CHUNK` at a time elsewhere); none for no values."""
    if not values:
        return
    if dialect_name(session) == "postgresql":
        yield list(values)
        return
    for chunk in chunks(values):
        yield list(chunk)


# PostgreSQL types for the column types we use. Bulk statements on PostgreSQL send all rows as
# one JSON document and expand it with json_to_recordset(): one round trip, one prepared plan
# for any number of rows, and the parsing done in the server's C code. Sending one array per
# column (unnest) cost the client about 8 us per 9-column row in asyncpg's array encoders,
# against 1.5 us to encode the JSON with msgspec, and ingest is bound by that client process.
_PG_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Boolean, "bool"),
    (DateTime, "timestamptz"),
    (Date, "date"),
    (JSON, "text"),  # the bind processor's JSON text, cast to json per row
    (String, "text"),
)
_JSON = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class _Recordset:
    """Rows of some columns of a table, as a json_to_recordset() document."""

    names: list[str]
    definition: str  # the recordset's column list: "device_id" text, ...
    casts: dict[str, str]  # what to append to a recordset column to get the table's type
    processors: list[Any]  # each column's bind processor (None: the value as it is)
    columns: frozenset[str]  # the names, as every row's keys must be

    @classmethod
    def of(cls, session: AsyncSession, table: Table, names: Sequence[str]) -> _Recordset:
        return cls._built(session.get_bind().dialect, table, tuple(names))

    @classmethod
    @functools.cache
    def _built(cls, dialect: Dialect, table: Table, names: tuple[str, ...]) -> _Recordset:
        # Once per table and columns: looking each column's types and bind processor up again
        # for every statement cost about what running a small one does (a batch of daily
        # charges makes five of them per group; 6% of its CPU in a profile).
        definition, casts, processors = [], {}, []
        for name in names:
            column = table.c[name]
            pg_type, cast = _pg_type(column)
            definition.append(f'"{name}" {pg_type}')
            casts[name] = cast
            processors.append(column.type.dialect_impl(dialect).bind_processor(dialect))
        return cls(list(names), ", ".join(definition), casts, processors, frozenset(names))

    def select(self, prefix: str) -> str:
        return ", ".join(f'{prefix}"{n}"{self.casts[n]}' for n in self.names)

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """A row's values as bound to the statement."""
        return tuple(
            row[n] if proc is None else proc(row[n])
            for n, proc in zip(self.names, self.processors, strict=True)
        )

    def document(self, rows: Sequence[Mapping[str, Any]]) -> str:
        # Each row copied whole (in C), then only the columns with a processor replaced: a
        # Python step for every cell cost twice as much (most columns need none).
        copies = [dict(row) for row in rows]
        if any(copy.keys() != self.columns for copy in copies):
            raise ValueError(f"every row of one bulk statement has the columns {self.names}")
        for name, proc in zip(self.names, self.processors, strict=True):
            if proc is not None:
                for copy in copies:
                    copy[name] = proc(copy[name])
        return _JSON.encode(copies).decode()


def _pg_type(column: Column[Any]) -> tuple[str, str]:
    """(recordset column type, cast applied to it) for a table column."""
    column_type = column.type
    impl = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
    for python_type, pg_type in _PG_TYPES:
        if isinstance(impl, python_type):
            return pg_type, "::json" if isinstance(impl, JSON) else ""
    raise TypeError(f"no bulk type for column {column.name} ({column_type})")


async def _driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


@dataclass(frozen=True, slots=True)
class Upsert:
    """What a bulk insert does with a row whose `key` (a unique constraint's columns) is
    already stored: set the stored row's `replace` columns to the new row's values, where any
    differs. A row whose values are already those is left unwritten (no new row version for
    PostgreSQL to write and vacuum) but still locked until the transaction ends, as every row
    that ON CONFLICT DO UPDATE meets is."""

    key: Sequence[str]
    replace: Sequence[str]


# SQLite's bulk statements, built once for each table and form (`once_per_dialect` says why).
@functools.cache
def _sqlite_insert(
    table: Table,
    skip_conflicts: bool,
    upsert: tuple[tuple[str, ...], tuple[str, ...]] | None,
    returning: tuple[str, ...],
) -> Executable:
    statement = sqlite.insert(table)
    if skip_conflicts:
        statement = statement.on_conflict_do_nothing()
    if upsert is not None:
        key, replace = upsert
        statement = statement.on_conflict_do_update(
            index_elements=[table.c[n] for n in key],
            set_={n: statement.excluded[n] for n in replace},
            where=or_(*(table.c[n].is_distinct_from(statement.excluded[n]) for n in replace)),
        )
    if returning:
        return statement.returning(*(table.c[n] for n in returning))
    return statement


@functools.cache
def _sqlite_update(table: Table, key: str, values: tuple[str, ...]) -> Update:
    return (
        update(table)
        .where(table.c[key] == bindparam(f"k_{key}"))
        .values({n: bindparam(f"k_{n}") for n in values})
    )


async def bulk_insert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts: bool = False,
    upsert: Upsert | None = None,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert many rows in one statement (a JSON recordset on PostgreSQL, executemany on
    SQLite), optionally skipping rows that hit a unique constraint, or updating the row they
    hit (`upsert`), and returning some columns of the rows inserted (as the database stores
    them: no type processing on the way back). Plain inserts on PostgreSQL use binary COPY, the
    cheapest way in for many rows. The SQL text depends only on the columns, never on the
    number of rows, so PostgreSQL prepares it once per connection and nothing is compiled per
    call (a multi-row VALUES statement cost more to compile than to run)."""
    if not rows:
        return []
    if skip_conflicts and upsert is not None:
        raise ValueError("skip_conflicts and upsert exclude each other")
    if dialect_name(session) != "postgresql":
        statement = _sqlite_insert(
            table,
            skip_conflicts,
            None if upsert is None else (tuple(upsert.key), tuple(upsert.replace)),
            tuple(returning),
        )
        if returning:
            return [tuple(row) for row in await session.execute(statement, list(rows))]
        await session.execute(statement, list(rows))
        return []
    names = list(rows[0])
    recordset = _Recordset.of(session, table, names)
    driver = await _driver(session)
    if not skip_conflicts and upsert is None and not returning:
        records = [recordset.values(row) for row in rows]
        await driver.copy_records_to_table(table.name, records=records, columns=names)
        return []
    quoted = ", ".join(f'"{n}"' for n in names)
    sql = (
        f'INSERT INTO "{table.name}" ({quoted}) SELECT {recordset.select("")} '
        f"FROM json_to_recordset($1::json) AS t({recordset.definition})"
    )
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if upsert is not None:
        key = ", ".join(f'"{n}"' for n in upsert.key)
        replace = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in upsert.replace)
        changed = " OR ".join(
            f'"{table.name}"."{n}" IS DISTINCT FROM EXCLUDED."{n}"' for n in upsert.replace
        )
        sql += f" ON CONFLICT ({key}) DO UPDATE SET {replace} WHERE {changed}"
    document = recordset.document(rows)
    if returning:
        sql += " RETURNING " + ", ".join(f'"{n}"' for n in returning)
        return [tuple(record) for record in await driver.fetch(sql, document)]
    await driver.execute(sql, document)
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
            _sqlite_update(table, key, tuple(values)),
            [{f"k_{n}": row[n] for n in names} for row in rows],
            execution_options={"synchronize_session": False},
        )
        return
    recordset = _Recordset.of(session, table, names)
    assignments = ", ".join(f'"{n}" = u."{n}"{recordset.casts[n]}' for n in values)
    sql = (
        f'UPDATE "{table.name}" AS target SET {assignments} '
        f"FROM json_to_recordset($1::json) AS u({recordset.definition}) "
        f'WHERE target."{key}" = u."{key}"'
    )
    driver = await _driver(session)
    await driver.execute(sql, recordset.document(rows))
