"""`qr verify --state FILE` from several processes at once: one code is accepted once.

Each process reads the state, decides and saves it under the state's lock; without it two
processes could read the same memory and both accept, and they shared one temporary file name
when saving. The test holds the lock itself until every process queues for it (the kernel
lists them as waiters), then lets them go: they take turns, whatever the machine's load.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from faregate.cli import cli
from tests.helpers.locks import lock_waiters
from tests.helpers.waiting import until_sync

FAREGATE = [sys.executable, "-c", "from faregate.cli import main; main()"]
T0 = "2025-06-01T00:00:00Z"
AT = "2025-06-01T08:30:07+07:00"
PROCESSES = 3


def _ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_concurrent_gates_accept_one_code_once(tmp_path: Path) -> None:
    keys, cred, state = tmp_path / "keys", tmp_path / "phone.json", tmp_path / "state.json"
    _ok("keys", "init", str(keys), "--at", T0)
    _ok(
        "qr", "issue", "--keys", str(keys), "--credential-id", "9", "--product", "M2A-DAY",
        "--at", T0, "--valid-until", "2025-06-02T00:00:00Z", "--out", str(cred),
    )  # fmt: skip
    token = _ok("qr", "token", "--credential", str(cred), "--at", AT).strip()
    verify = [
        *FAREGATE, "qr", "verify", "--keys", str(keys), "--text", token, "--at", AT,
        "--state", str(state), "--json",
    ]  # fmt: skip
    lock_file = state.with_name(state.name + ".lock")
    held = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        gates = [
            subprocess.Popen(verify, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(PROCESSES)
        ]

        def queued() -> bool:
            exited = any(gate.poll() is not None for gate in gates)
            return exited or lock_waiters(lock_file) == PROCESSES

        until_sync(queued, "every gate process waits for the state's lock", within=120)
        assert lock_waiters(lock_file) == PROCESSES  # none went by without the lock
    finally:
        os.close(held)  # lets them go
    results = [(gate.wait(timeout=120), *gate.communicate()) for gate in gates]

    assert [(code, err) for code, _, err in results] == [(0, "")] * PROCESSES
    reasons = sorted(json.loads(out)["reason"] for _, out, _ in results)
    assert reasons == ["accepted"] + ["replayed"] * (PROCESSES - 1)
    saved = json.loads(state.read_text())
    assert list(saved["gates"]["GATE-1"]["uses"]) == ["9"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "keys", "phone.json", "state.json", "state.json.lock",
    ]  # fmt: skip
