"""The offline gate: images through zxing-cpp, a durable journal, memory that survives a restart."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qr.decision import Reason
from qr.denylist import DenyList, DenyListDelta
from qr.errors import DenyListGapError
from qr.issue import PhoneCredential, issue_credential
from qr.keys import KeyMaterial
from qr.render import png_bytes, write_png
from qr.vectors import fixed_key_material
from simulators.gate import OfflineGate

NOW = datetime(2025, 6, 1, 8, 30, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys() -> KeyMaterial:
    return fixed_key_material(rotated=False)


@pytest.fixture(scope="module")
def phone(keys: KeyMaterial) -> PhoneCredential:
    return issue_credential(keys, credential_id=555, product="M3-DAY", now=NOW - timedelta(hours=1))


def _gate(keys: KeyMaterial, journal: Path, deny_list: DenyList | None = None) -> OfflineGate:
    return OfflineGate(
        "M3-G7", keys.keyset, keys.secure_module(), journal, deny_list=deny_list, clock=lambda: NOW
    )


def test_png_to_zxing_to_accept_and_the_screenshot_is_replayed(
    keys: KeyMaterial, phone: PhoneCredential, tmp_path: Path
) -> None:
    image = tmp_path / "code.png"
    write_png(phone.token_at(NOW), image)
    gate = _gate(keys, tmp_path / "gate.sqlite")
    first = gate.present_image(image, NOW)
    assert (first.accepted, first.credential_id) == (True, 555)
    again = gate.present_image(image.read_bytes(), NOW + timedelta(seconds=4))
    assert again.reason is Reason.REPLAYED
    records = gate.journal.records()
    assert [(r.seq, r.accepted, r.reason) for r in records] == [
        (1, True, Reason.ACCEPTED),
        (2, False, Reason.REPLAYED),
    ]
    assert {r.device_id for r in records} == {"M3-G7"}
    gate.close()


@pytest.mark.parametrize(
    "image",
    [b"", b"not a png at all", png_bytes("HELLO WORLD"), png_bytes("HELLO")[:200]],
)
def test_garbled_or_foreign_images_are_refused_and_journaled(
    keys: KeyMaterial, tmp_path: Path, image: bytes
) -> None:
    gate = _gate(keys, tmp_path / "gate.sqlite")
    d = gate.present_image(image)
    assert (d.accepted, d.reason) == (False, Reason.MALFORMED)
    assert d.detail
    assert gate.journal.records()[-1].reason is Reason.MALFORMED
    gate.close()


def test_restart_keeps_journal_sequence_and_replay_memory(
    keys: KeyMaterial, phone: PhoneCredential, tmp_path: Path
) -> None:
    journal = tmp_path / "gate.sqlite"
    token = phone.token_at(NOW)
    gate = _gate(keys, journal)
    assert gate.present_text(token).accepted
    gate.close()  # power cut after the decision was journaled
    restarted = _gate(keys, journal)
    assert restarted.present_text(token, NOW + timedelta(seconds=2)).reason is Reason.REPLAYED
    assert [r.seq for r in restarted.journal.records()] == [1, 2]
    assert [r.seq for r in restarted.journal.records(after_seq=1)] == [2]
    restarted.close()


def test_deny_list_sync_by_deltas(
    keys: KeyMaterial, phone: PhoneCredential, tmp_path: Path
) -> None:
    gate = _gate(keys, tmp_path / "gate.sqlite", deny_list=DenyList(1, frozenset()))
    gate.apply_deny_delta(DenyListDelta(1, 2, frozenset({555}), frozenset()))
    d = gate.present_text(phone.token_at(NOW))
    assert (d.reason, d.deny_list_version) == (Reason.DENIED, 2)
    with pytest.raises(DenyListGapError):
        gate.apply_deny_delta(DenyListDelta(3, 4, frozenset(), frozenset({555})))
    assert gate.deny_list == DenyList(2, frozenset({555}))
    gate.close()


def test_unsigned_64_bit_ids_are_journaled_exactly(keys: KeyMaterial, tmp_path: Path) -> None:
    big = issue_credential(
        keys, credential_id=2**64 - 1, product="BUS-ALL", now=NOW - timedelta(minutes=5)
    )
    gate = _gate(keys, tmp_path / "gate.sqlite")
    assert gate.present_text(big.token_at(NOW)).accepted
    assert gate.journal.records()[0].credential_id == 2**64 - 1
    gate.close()


# A gate process on a journal committed without an fsync per decision (the demo's simulated
# gates): it decides three codes, says so, and waits to be killed.
_GATE_PROCESS = """
import sys
from datetime import datetime, timedelta
from pathlib import Path
from qr.issue import issue_credential
from qr.vectors import fixed_key_material
from simulators.gate import OfflineGate
now = datetime.fromisoformat(sys.argv[2])
keys = fixed_key_material(rotated=False)
gate = OfflineGate("M3-G7", keys.keyset, keys.secure_module(), Path(sys.argv[1]),
                   clock=lambda: now, durable_journal=False)
for n in range(3):
    phone = issue_credential(keys, credential_id=700 + n, product="M3-DAY",
                             now=now - timedelta(hours=1))
    print(gate.present_text(phone.token_at(now)).reason.value, flush=True)
sys.stdin.read()
"""


def test_a_gate_killed_after_deciding_keeps_its_decisions_without_an_fsync_each(
    keys: KeyMaterial, tmp_path: Path
) -> None:
    """What the demo's gates rely on: a commit reaches the file before the decision is
    answered, so SIGKILL (the gate_killed fault) loses none of them; only a power cut could."""
    journal = tmp_path / "gate.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-c", _GATE_PROCESS, str(journal), NOW.isoformat()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert [process.stdout.readline().strip() for _ in range(3)] == ["accepted"] * 3
    process.kill()
    assert process.wait() == -signal.SIGKILL
    restarted = _gate(keys, journal)
    assert [(r.seq, r.credential_id) for r in restarted.journal.records()] == [
        (1, 700), (2, 701), (3, 702),
    ]  # fmt: skip
    restarted.close()
