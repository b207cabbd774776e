"""Gate memory persistence and pruning; the published vectors match the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qr.decision import Reason
from qr.errors import GateStateError
from qr.memory import GateMemory, GateStateFile
from qr.vectors import render

ROOT = Path(__file__).resolve().parents[2]


def test_memory_round_trips_through_json_and_state_file(tmp_path: Path) -> None:
    memory = GateMemory()
    memory.record(7, 100, 1500.0, "G1")
    assert GateMemory.from_json(json.loads(json.dumps(memory.to_json()))).last_use(
        7
    ) == memory.last_use(7)
    state = GateStateFile(tmp_path / "state.json")
    state.memory("G1").record(7, 100, 1500.0, "G1")
    state.save()
    reloaded = GateStateFile(tmp_path / "state.json")
    assert reloaded.memory("G1").refusal(7, 100, 1600.0, 0) is Reason.REPLAYED
    assert reloaded.memory("G2").refusal(7, 100, 1600.0, 0) is None


def test_prune_forgets_only_old_uses() -> None:
    memory = GateMemory()
    memory.record(1, 10, 1000.0, "G")
    memory.record(2, 20, 1100.0, "G")
    assert memory.prune(1150.0, keep_seconds=100) == 1
    assert memory.last_use(1) is None
    assert memory.last_use(2) is not None


@pytest.mark.parametrize(
    "text", ["{", "[]", '{"format": "faregate-gate-state/1", "gates": {"G": {"format": "x"}}}']
)
def test_corrupt_state_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(GateStateError):
        GateStateFile(path)


def test_published_vectors_match_the_code() -> None:
    published = (ROOT / "docs" / "token-vectors.json").read_text(encoding="utf-8")
    assert published == render(), "regenerate: python -m qr.vectors > docs/token-vectors.json"


def test_spec_quotes_the_vector_tokens() -> None:
    spec = (ROOT / "docs" / "TOKEN-SPEC.md").read_text(encoding="utf-8")
    for credential in json.loads(render())["credentials"]:
        assert credential["token"] in spec
        assert credential["credential_hex"] in spec
