"""A gate as a process of its own, for the tests that kill one mid-day.

    python -m tests.helpers.gate_process KEYS_DIR JOURNAL DEVICE_ID

It reads one `{"token": ..., "at": ISO 8601}` object per line on stdin, decides on each with
`simulators.gate.OfflineGate` (the key directory's public keys and liveness masters, the journal
file given) and writes `{"reason": ...}` on stdout once the decision is committed to its
journal. It never uploads: the test kills it whenever it likes, as a power cut would.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from qr.keys import load_keys
from simulators.gate import OfflineGate


def main(keys_dir: str, journal: str, device_id: str) -> None:
    keys = load_keys(Path(keys_dir))
    gate = OfflineGate(device_id, keys.keyset, keys.secure_module(), Path(journal))
    for line in sys.stdin:
        shown = json.loads(line)
        decision = gate.present_text(shown["token"], datetime.fromisoformat(shown["at"]))
        print(json.dumps({"reason": decision.reason.value}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
