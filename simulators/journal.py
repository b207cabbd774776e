"""A device's durable, append-only journal in one SQLite file: what gates and barriers share.

Each append is one transaction in WAL mode with `synchronous=FULL`: the commit fsyncs the WAL,
so a decision the device acted on survives a power cut. That fsync is most of a decision's cost
(bench/parking_lots.py measures it); `durable=False` (`synchronous=NORMAL`: no fsync per commit,
the last records may be lost on power loss) exists only so a benchmark can show that share.
On restart the device's replay memory is rebuilt from the codes it accepted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from qr.memory import GateMemory


class SqliteJournal:
    """The SQLite file and the statements every device journal makes (see the module docstring);
    subclasses give the schema and their records."""

    def __init__(self, path: Path, schema: str, *, durable: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(schema)

    def _append(self, insert: str, values: Sequence[object]) -> int:
        """Run one INSERT and commit; the new row's sequence number (its rowid)."""
        with self._db:
            cursor = self._db.execute(insert, values)
        seq = cursor.lastrowid
        assert seq is not None  # an INSERT into a rowid table always has one
        return seq

    def _memory(self, query: str, since: float, *, per_second: float = 1.0) -> GateMemory:
        """The replay memory of the accepted codes `query` selects as (device_id, time, credential
        id, step) from time `since` on, its times in units of 1/`per_second` seconds."""
        memory = GateMemory()
        for device_id, at, credential_id, step in self._db.execute(query, (since,)):
            memory.record(int(credential_id), step, at / per_second, device_id)
        return memory

    def close(self) -> None:
        self._db.close()
