"""Which database URLs `faregate` accepts before it tries to connect."""

from __future__ import annotations

import pytest

from faregate.database import parse_database_url
from faregate.errors import DatabaseUrlError


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///var/faregate.db",
        "sqlite+aiosqlite://",  # in memory
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        "postgresql+asyncpg://user:p%40ss@db.example/faregate?search_path=run_1",
        "postgresql+asyncpg://postgres@/test?host=/var/run/postgresql",  # unix socket
    ],
)
def test_urls_of_supported_databases_parse(url: str) -> None:
    assert parse_database_url(url).drivername in ("sqlite+aiosqlite", "postgresql+asyncpg")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql+aiomysql://u@h/db", "unsupported database driver"),
        ("sqlite:///x.db", "unsupported database driver"),
        ("postgresql+psycopg://u@h/db", "unsupported database driver"),
        ("::::", "not a database URL"),
        ("postgresql+asyncpg:///test", "needs a host"),
        ("postgresql+asyncpg://u@h", "needs a host and a database"),
    ],
)
def test_urls_that_cannot_work_are_refused(url: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message):
        parse_database_url(url)


def test_the_password_is_not_shown() -> None:
    with pytest.raises(DatabaseUrlError) as refused:
        parse_database_url("postgresql+asyncpg://user:secret@/")
    assert "secret" not in str(refused.value)
