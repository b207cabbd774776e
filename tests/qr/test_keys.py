"""Key directories and rotation: files and modes, old and new keys, unknown and retired keys."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qr.decision import Reason
from qr.errors import CredentialError, KeySetError, NoActiveKeyError
from qr.issue import issue_credential
from qr.keys import (
    ISSUER_KEYS_FILE,
    KEYSET_FILE,
    LIVENESS_KEYS_FILE,
    KeySet,
    init_keys,
    load_keys,
    load_keyset,
    load_secure_module,
    rotate_keys,
)
from qr.memory import GateMemory
from qr.vectors import fixed_key_material
from qr.verifier import GateContext, Verifier

T0 = datetime(2025, 1, 1, tzinfo=UTC)
GATE = GateContext("G1")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_public_set_and_private_files_0600(tmp_path: Path) -> None:
    material = init_keys(tmp_path, T0, period=20)
    assert _mode(tmp_path / ISSUER_KEYS_FILE) == 0o600
    assert _mode(tmp_path / LIVENESS_KEYS_FILE) == 0o600
    keyset_text = (tmp_path / KEYSET_FILE).read_text()
    for secret in material.liveness_masters.values():
        assert secret.master.hex() not in keyset_text
    assert load_keyset(tmp_path) == material.keyset
    assert material.keyset.liveness_keys[0].period == 20
    loaded = load_keys(tmp_path)
    assert loaded.keyset == material.keyset
    assert set(loaded.issuer_private) == {1}
    assert load_secure_module(tmp_path).knows(1)


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    init_keys(tmp_path, T0)
    with pytest.raises(KeySetError, match="already exists"):
        init_keys(tmp_path, T0)


def test_rotate_adds_keys_and_issuing_uses_the_newest(tmp_path: Path) -> None:
    init_keys(tmp_path, T0)
    rotated = rotate_keys(tmp_path, T0 + timedelta(days=30))
    assert [k.kid for k in rotated.keyset.issuer_keys] == [1, 2]
    assert [k.kid for k in rotated.keyset.liveness_keys] == [1, 2]
    assert _mode(tmp_path / ISSUER_KEYS_FILE) == 0o600
    phone = issue_credential(
        load_keys(tmp_path), credential_id=9, product="BUS-ALL", now=T0 + timedelta(days=31)
    )
    assert (phone.credential.issuer_kid, phone.credential.liveness_kid) == (2, 2)


def test_old_and_new_keys_both_verify_until_the_old_keys_end() -> None:
    material = fixed_key_material(rotated=True)  # key 1: 2025-01-01..2027-01-01, key 2 from 2026
    old_key_end = material.keyset.issuer(1).not_after  # type: ignore[union-attr]
    verifier = Verifier(material.keyset, material.secure_module())
    before_rotation = fixed_key_material(rotated=False)
    old = issue_credential(
        before_rotation,
        credential_id=1,
        product="M2A-MON",
        now=datetime(2025, 12, 1, tzinfo=UTC),
        valid_until=old_key_end,
    )
    new = issue_credential(
        material, credential_id=2, product="M2A-MON", now=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert (old.credential.issuer_kid, new.credential.issuer_kid) == (1, 2)
    at = datetime(2026, 2, 10, tzinfo=UTC)
    assert verifier.verify(old.token_at(at), at=at, gate=GATE).accepted
    assert verifier.verify(new.token_at(at), at=at, gate=GATE).accepted
    last = old_key_end - timedelta(seconds=1)
    assert verifier.verify(old.token_at(last), at=last, gate=GATE, memory=GateMemory()).accepted
    d = verifier.verify(old.token_at(old_key_end), at=old_key_end, gate=GATE)
    assert (d.accepted, d.reason) == (False, Reason.UNKNOWN_KEY)
    assert "not in force" in d.detail


def test_unknown_key_ids_are_refused() -> None:
    rotated = fixed_key_material(rotated=True)
    gate_with_old_keyset = Verifier(
        fixed_key_material(rotated=False).keyset, rotated.secure_module()
    )
    at = datetime(2026, 2, 1, tzinfo=UTC)
    phone = issue_credential(rotated, credential_id=3, product="M3-DAY", now=at)
    d = gate_with_old_keyset.verify(phone.token_at(at), at=at, gate=GATE)
    assert (d.accepted, d.reason) == (False, Reason.UNKNOWN_KEY)
    assert "issuer key 2 unknown" in d.detail


def test_secure_module_without_the_liveness_key_refuses_as_unknown_key() -> None:
    rotated = fixed_key_material(rotated=True)
    old_module = fixed_key_material(rotated=False).secure_module()
    verifier = Verifier(rotated.keyset, old_module)
    at = datetime(2026, 2, 1, tzinfo=UTC)
    phone = issue_credential(rotated, credential_id=3, product="M3-DAY", now=at)
    assert verifier.verify(phone.token_at(at), at=at, gate=GATE).reason is Reason.UNKNOWN_KEY


def test_a_credential_may_not_outlive_its_keys() -> None:
    material = fixed_key_material(rotated=False)
    with pytest.raises(CredentialError, match="after the keys' end"):
        issue_credential(
            material,
            credential_id=1,
            product="X",
            now=datetime(2026, 12, 1, tzinfo=UTC),
            valid_until=datetime(2027, 6, 1, tzinfo=UTC),
        )
    default = issue_credential(
        material, credential_id=1, product="X", now=datetime(2026, 12, 20, tzinfo=UTC)
    )
    assert default.credential.valid_until == datetime(2027, 1, 1, tzinfo=UTC)


def test_no_key_in_force_cannot_issue() -> None:
    with pytest.raises(NoActiveKeyError):
        issue_credential(
            fixed_key_material(), credential_id=1, product="X", now=datetime(2030, 1, 1, tzinfo=UTC)
        )


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"format": "other"},
        {"format": "faregate-keyset/1"},
        {"format": "faregate-keyset/1", "issuer_keys": [{"kid": 0}], "liveness_keys": []},
        {
            "format": "faregate-keyset/1",
            "issuer_keys": [
                {
                    "kid": 1,
                    "public_key": "00",
                    "not_before": "2025-01-01T00:00:00Z",
                    "not_after": "2026-01-01T00:00:00Z",
                }
            ],
            "liveness_keys": [],
        },
        {
            "format": "faregate-keyset/1",
            "issuer_keys": [],
            "liveness_keys": [
                {
                    "kid": 1,
                    "period": 15,
                    "not_before": "2025-01-01T00:00:00",
                    "not_after": "2026-01-01T00:00:00Z",
                }
            ],
        },
    ],
)
def test_malformed_keyset_documents_are_clear_errors(doc: object) -> None:
    with pytest.raises(KeySetError):
        KeySet.from_json(doc)


def test_missing_or_corrupt_key_files(tmp_path: Path) -> None:
    with pytest.raises(KeySetError, match="keys init"):
        load_keyset(tmp_path)
    init_keys(tmp_path, T0)
    (tmp_path / LIVENESS_KEYS_FILE).write_text(
        json.dumps({"format": "faregate-liveness-keys/1", "keys": {"1": {}}})
    )
    with pytest.raises(KeySetError, match="malformed"):
        load_secure_module(tmp_path)
    (tmp_path / KEYSET_FILE).write_text("{")
    with pytest.raises(KeySetError, match="not valid JSON"):
        load_keyset(tmp_path)
