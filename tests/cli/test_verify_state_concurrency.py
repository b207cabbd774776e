"""`qr verify --state FILE` from several processes at once: one code is accepted once.

Each process reads the state, decides and saves it; without a lock two processes could read
the same memory and both accept, and they shared one temporary file name when saving.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from faregate.cli import cli

FAREGATE = [sys.executable, "-c", "from faregate.cli import main; main()"]
T0 = "2025-06-01T00:00:00Z"
AT = "2025-06-01T08:30:07+07:00"
PROCESSES = 8


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
    gates = [
        subprocess.Popen(verify, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    results = [(gate.wait(timeout=120), *gate.communicate()) for gate in gates]

    assert [(code, err) for code, _, err in results] == [(0, "")] * PROCESSES
    reasons = sorted(json.loads(out)["reason"] for _, out, _ in results)
    assert reasons == ["accepted"] + ["replayed"] * (PROCESSES - 1)
    saved = json.loads(state.read_text())
    assert list(saved["gates"]["GATE-1"]["uses"]) == ["9"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "keys", "phone.json", "state.json", "state.json.lock",
    ]  # fmt: skip
