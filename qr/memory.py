"""A gate's replay and passback memory: the last accepted TOTP step of each credential.

RFC 6238 §5.2: once a code has been accepted, a second use MUST NOT be. pyotp's `verify()`
forgets; this remembers. One memory belongs to one gate, or to every gate of one station when
they share it (the `gate_id` of each entry says which gate accepted it).

- replayed: the code's step is not later than the step last accepted for that credential;
- passback: a fresh code, but the credential was accepted here less than `passback_seconds`
  ago (a phone handed back over the barrier).

Entries are plain numbers, so the memory is pure and serialisable (the CLI's `--state FILE`).
"""

from __future__ import annotations

import fcntl
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from qr.decision import Reason
from qr.errors import GateStateError
from qr.jsonfile import read_json, write_json

MEMORY_FORMAT = "faregate-gate-memory/1"
STATE_FORMAT = "faregate-gate-state/1"


class LastUse(NamedTuple):
    step: int
    at: float  # Unix seconds
    gate_id: str


class GateMemory:
    __slots__ = ("_uses",)

    def __init__(self, uses: dict[int, LastUse] | None = None) -> None:
        self._uses: dict[int, LastUse] = {} if uses is None else dict(uses)

    def __len__(self) -> int:
        return len(self._uses)

    def last_use(self, credential_id: int) -> LastUse | None:
        return self._uses.get(credential_id)

    def refusal(
        self, credential_id: int, step: int, at: float, passback_seconds: float
    ) -> Reason | None:
        """REPLAYED or PASSBACK when this use must be refused, else None."""
        last = self._uses.get(credential_id)
        if last is None:
            return None
        if step <= last.step:
            return Reason.REPLAYED
        if at - last.at < passback_seconds:
            return Reason.PASSBACK
        return None

    def record(self, credential_id: int, step: int, at: float, gate_id: str) -> None:
        self._uses[credential_id] = LastUse(step, at, gate_id)

    def prune(self, at: float, keep_seconds: float) -> int:
        """Forget uses older than `keep_seconds`; returns how many were dropped.

        Safe once `keep_seconds` covers the passback time and the TOTP window plus one period:
        any code from a forgotten step would be refused as stale anyway.
        """
        old = [cid for cid, use in self._uses.items() if at - use.at >= keep_seconds]
        for cid in old:
            del self._uses[cid]
        return len(old)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MEMORY_FORMAT,
            "uses": {
                str(cid): {"step": u.step, "at": u.at, "gate": u.gate_id}
                for cid, u in self._uses.items()
            },
        }

    @classmethod
    def from_json(cls, doc: object) -> GateMemory:
        if not isinstance(doc, dict) or doc.get("format") != MEMORY_FORMAT:
            raise GateStateError(f"not a gate memory (expected format {MEMORY_FORMAT!r})")
        try:
            return cls({int(cid): _last_use(u) for cid, u in doc["uses"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GateStateError(f"malformed gate memory: {exc}") from exc


def _last_use(entry: Any) -> LastUse:
    """One entry as `to_json` writes it: an int step, finite Unix seconds, a gate id."""
    step, at, gate = entry["step"], entry["at"], entry["gate"]
    if type(step) is not int or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    if type(at) not in (int, float) or not math.isfinite(at):
        raise ValueError(f"at must be a finite number of seconds, got {at!r}")
    if not isinstance(gate, str):
        raise ValueError(f"gate must be a gate id, got {gate!r}")
    return LastUse(step, float(at), gate)


class GateStateFile:
    """Memories of several gates in one JSON file, keyed by gate id (the CLI's `--state`).

    Open it with `GateStateFile.locked(path)` whenever the memories will be saved: the lock
    (an exclusive `flock` on `path` + ".lock", held from reading to saving) makes concurrent
    processes take turns, so no two of them accept one code on the same stale memory.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.memories: dict[str, GateMemory] = {}
        if path.exists():
            doc = read_json(path, GateStateError)
            if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
                raise GateStateError(f"{path} is not a gate state file")
            gates = doc.get("gates")
            if not isinstance(gates, dict):
                raise GateStateError(f"{path}: 'gates' must be an object")
            self.memories = {str(g): GateMemory.from_json(m) for g, m in gates.items()}

    @classmethod
    @contextmanager
    def locked(cls, path: Path) -> Iterator[GateStateFile]:
        """The state in `path`, read and held under an exclusive lock until the block ends."""
        lock_path = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise GateStateError(f"cannot lock {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield cls(path)
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def memory(self, gate_id: str) -> GateMemory:
        return self.memories.setdefault(gate_id, GateMemory())

    def save(self) -> None:
        doc = {"format": STATE_FORMAT, "gates": {g: m.to_json() for g, m in self.memories.items()}}
        write_json(self.path, doc, error=GateStateError)
