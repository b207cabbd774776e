"""One settings object for the whole app, read from command-line flags and the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ticketing.users import DEFAULT_COST, ScryptCost

DEFAULT_DATA_DIR = Path("var")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where Faregate keeps its state and which servers it talks to.

    `database_url` defaults to SQLite in the data directory. Without `redis_url` the app starts
    a private redis-server on a unix socket in the data directory (`faregate.redis_runtime`).
    Messages to riders go to `outbox_url` (`file:PATH`), by default a file outbox in the data
    directory (`faregate.outbox_runtime`). `password_cost`: the scrypt cost new password
    hashes are made at (registration, a reset, `users add`) and unknown users' sign-ins are
    checked at (`FAREGATE_SCRYPT_N`); the production default unless a test sets a cheap one.
    """

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    redis_url: str | None = None
    outbox_url: str | None = None
    password_cost: ScryptCost = DEFAULT_COST

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'faregate.db').resolve()}"
