"""The file outbox: the embedded default's `Outbox`, one JSON line per message in a file in the
data directory (`DATA_DIR/outbox.jsonl`), nothing actually sent. The demo and tests read it
back, and so does `faregate outbox`.

Written atomically: a message is either a whole line of the file or absent. Each send takes an
exclusive `flock` on a lock file beside it (so the server, workers and the CLI can share the
file), checks the dedup key, then appends its line with one `write` and `fsync`s it. A line cut
short by a crash (no newline at the end of the file) is ignored by readers and cut off by the
next send before it appends. The dedup keys are read once and then only the lines appended
since (by size), so a send costs one lock and one append, not a read of the whole file.

File I/O runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ticketing.errors import InvalidMessage, OutboxError
from ticketing.outbox.messages import Message

OUTBOX_FILE = "outbox.jsonl"


@dataclass(slots=True)
class _Seen:
    """The dedup keys of the first `lines` lines (`offset` bytes) of the file `inode`."""

    inode: int = -1
    offset: int = 0
    lines: int = 0
    keys: set[str] = field(default_factory=set)


def _whole_lines(data: bytes) -> tuple[list[bytes], int]:
    """The complete lines of `data` and how many bytes they take (a cut-off tail is left)."""
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(), end


def _parse(line: bytes, path: Path, number: int) -> Message:
    try:
        return Message.from_json(json.loads(line))
    except (ValueError, InvalidMessage) as error:
        raise OutboxError(f"{path}: line {number} is not a message ({error})") from None


class FileOutbox:
    """An `Outbox` and `OutboxReader` over one JSON-lines file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._seen = _Seen()

    async def send(self, message: Message) -> bool:
        return await asyncio.to_thread(self._send_now, message)

    async def messages(self, account_id: str | None = None) -> list[Message]:
        found = await asyncio.to_thread(self._read_now)
        return [m for m in found if account_id is None or m.account_id == account_id]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise OutboxError(f"cannot open the outbox at {self.path}: {error}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)  # closing releases the lock

    def _send_now(self, message: Message) -> bool:
        line = json.dumps(message.to_json(), ensure_ascii=False, sort_keys=True).encode() + b"\n"
        with self._locked():
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            except OSError as error:
                raise OutboxError(f"cannot open the outbox at {self.path}: {error}") from None
            try:
                if message.dedup_key in self._catch_up(fd):
                    return False
                if os.write(fd, line) != len(line):  # a full disk: take the part back out
                    os.ftruncate(fd, self._seen.offset)
                    raise OSError("short write")
                os.fsync(fd)
                self._seen.offset += len(line)
                self._seen.lines += 1
                self._seen.keys.add(message.dedup_key)
                return True
            except OSError as error:
                raise OutboxError(f"cannot write the outbox at {self.path}: {error}") from None
            finally:
                os.close(fd)

    def _catch_up(self, fd: int) -> set[str]:
        """The dedup keys of every whole line, reading only what was appended since last time;
        a cut-off last line (a crash mid-write) is truncated away."""
        stat = os.fstat(fd)
        seen = self._seen
        if stat.st_ino != seen.inode or stat.st_size < seen.offset:
            self._seen = seen = _Seen(inode=stat.st_ino)  # a new or rewritten file
        data = os.pread(fd, stat.st_size - seen.offset, seen.offset)
        lines, whole = _whole_lines(data)
        for number, line in enumerate(lines, start=seen.lines + 1):
            seen.keys.add(_parse(line, self.path, number).dedup_key)
        seen.offset += whole
        seen.lines += len(lines)
        if seen.offset < stat.st_size:
            os.ftruncate(fd, seen.offset)
        return seen.keys

    def _read_now(self) -> list[Message]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise OutboxError(f"cannot read the outbox at {self.path}: {error}") from None
        lines, _ = _whole_lines(data)
        return [_parse(line, self.path, number) for number, line in enumerate(lines, start=1)]
