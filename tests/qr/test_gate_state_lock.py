"""GateStateFile.locked makes processes that share a state file take turns.

One process reads the state under the lock and holds it, undecided, until the test lets it go;
meanwhile the lock file cannot be locked by anyone else, and the other processes, started only
then, queue for the lock (the kernel lists them as waiters in /proc/locks). Then the first
saves, and each of the others reads what the one before it saved: exactly one accepts the code
every process is shown, and every record survives. Without the lock the others would not
queue, and all of them would read the same empty memory and accept.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from qr.memory import GateStateFile
from tests.helpers.locks import lock_waiters
from tests.helpers.waiting import until_sync

WAITING = 4  # processes queued behind the first
CONTEXT = multiprocessing.get_context("fork")
HELD = 60.0  # seconds: a bound in case the test dies, never reached by a passing run


def _gate(
    path: str,
    credential_id: int,
    accepted: multiprocessing.Queue[bool],
    inside: Event | None = None,
    leave: Event | None = None,
) -> None:
    with GateStateFile.locked(Path(path)) as state:
        memory = state.memory("G1")
        shared_refusal = memory.refusal(1, step=100, at=1000.0, passback_seconds=0)
        if inside is not None and leave is not None:
            inside.set()
            leave.wait(HELD)
        if shared_refusal is None:
            memory.record(1, 100, 1000.0, "G1")  # the one code every process is shown
        memory.record(credential_id, 100, 1000.0, "G1")  # a rider of this process's own
        state.save()
    accepted.put(shared_refusal is None)


def test_processes_sharing_a_state_file_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    lock_file = path.with_name(path.name + ".lock")
    accepted: multiprocessing.Queue[bool] = CONTEXT.Queue()
    inside, leave = CONTEXT.Event(), CONTEXT.Event()
    first = CONTEXT.Process(target=_gate, args=(str(path), 100, accepted, inside, leave))
    first.start()
    others = []
    try:
        assert inside.wait(HELD), "the first gate never got the lock"
        probe = os.open(lock_file, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
        others = [
            CONTEXT.Process(target=_gate, args=(str(path), 101 + n, accepted))
            for n in range(WAITING)
        ]
        for gate in others:
            gate.start()
        until_sync(lambda: lock_waiters(lock_file) == WAITING, "the other gates wait for the lock")
    finally:
        leave.set()
        for gate in [first, *others]:
            gate.join(timeout=HELD)
    assert [gate.exitcode for gate in [first, *others]] == [0] * (1 + WAITING)

    outcomes = sorted(accepted.get(timeout=5) for _ in range(1 + WAITING))
    assert outcomes == [False] * WAITING + [True]
    memory = GateStateFile(path).memory("G1")
    assert len(memory) == 2 + WAITING
