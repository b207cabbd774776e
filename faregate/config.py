"""One settings object for the whole app, read from command-line flags and the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path("var")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where Faregate keeps its state and which servers it talks to.

    `database_url` defaults to SQLite in the data directory; `redis_url` of None means
    "start a private redis-server in the data directory".
    """

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    redis_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            data_dir=Path(env.get("FAREGATE_DATA_DIR") or DEFAULT_DATA_DIR),
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
        )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'faregate.db').resolve()}"
