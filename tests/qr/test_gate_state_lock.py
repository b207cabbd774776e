"""GateStateFile.locked makes processes that share a state file take turns.

Every process waits at a barrier, then reads the state, decides slowly and saves: unlocked,
they all read the same empty memory, so one code is accepted by each of them and all but one
record is lost. Locked, exactly one accepts and every record survives.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path

from qr.memory import GateStateFile

PROCESSES = 6
SLOW_DECISION = 0.05  # seconds between reading the memory and saving it
CONTEXT = multiprocessing.get_context("fork")


def _gate(
    path: str, barrier: Barrier, credential_id: int, accepted: multiprocessing.Queue[bool]
) -> None:
    barrier.wait()
    with GateStateFile.locked(Path(path)) as state:
        memory = state.memory("G1")
        shared_refusal = memory.refusal(1, step=100, at=1000.0, passback_seconds=0)
        time.sleep(SLOW_DECISION)
        if shared_refusal is None:
            memory.record(1, 100, 1000.0, "G1")  # the one code every process is shown
        memory.record(credential_id, 100, 1000.0, "G1")  # a rider of this process's own
        state.save()
    accepted.put(shared_refusal is None)


def test_processes_sharing_a_state_file_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    barrier = CONTEXT.Barrier(PROCESSES)
    accepted: multiprocessing.Queue[bool] = CONTEXT.Queue()
    gates = [
        CONTEXT.Process(target=_gate, args=(str(path), barrier, 100 + n, accepted))
        for n in range(PROCESSES)
    ]
    for gate in gates:
        gate.start()
    for gate in gates:
        gate.join(timeout=60)
    assert [gate.exitcode for gate in gates] == [0] * PROCESSES

    outcomes = sorted(accepted.get(timeout=5) for _ in range(PROCESSES))
    assert outcomes == [False] * (PROCESSES - 1) + [True]
    memory = GateStateFile(path).memory("G1")
    assert len(memory) == 1 + PROCESSES
