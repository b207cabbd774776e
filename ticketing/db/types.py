"""Column types that keep Python values honest across SQLite and PostgreSQL.

`UTCDateTime` round-trips aware datetimes as UTC (SQLite has no time zones, so it stores naive
UTC text and we re-attach UTC on the way out). `UInt64` stores 64-bit unsigned credential ids in
a signed BIGINT by two's complement, so every id fits and equality lookups stay indexed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

_2_63 = 1 << 63
_2_64 = 1 << 64


def _impl_processes(decorator: TypeDecorator[Any], dialect: Dialect) -> bool:
    """Whether the type a decorator wraps has a bind processor of its own on `dialect` (then
    the decorator's own processor, which calls it, is the one to use)."""
    impl = decorator.impl_instance.dialect_impl(dialect)
    return impl.bind_processor(dialect) is not None


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # Most values already carry UTC (decoded "Z" times, our clocks): bulk inserts bind
        # several per row, and the check and conversion below were a fifth of an upload's CPU.
        if value.tzinfo is not UTC:
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"refusing to store a naive datetime {value!r}")
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On PostgreSQL a UTC time binds as it is with no call beyond this one (bulk inserts
        bind two times per tap; TypeDecorator's own processor is two calls deep)."""
        if dialect.name == "sqlite" or _impl_processes(self, dialect):
            return super().bind_processor(dialect)
        convert = self.process_bind_param

        def process(value: datetime | None) -> datetime | None:
            if value is None or value.tzinfo is UTC:
                return value
            return convert(value, dialect)

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class UInt64(TypeDecorator[int]):
    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if not 0 <= value < _2_64:
            raise ValueError(f"{value} is not an unsigned 64-bit integer")
        return value - _2_64 if value >= _2_63 else value

    def process_result_value(self, value: int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return value + _2_64 if value < 0 else value
