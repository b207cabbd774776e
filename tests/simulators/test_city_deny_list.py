"""The city's devices hold the backend's deny list and sync its deltas, all or none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qr.denylist import DenyList, DenyListDelta
from qr.errors import DenyListGapError
from qr.issue import issue_credential
from qr.keys import KeyMaterial
from qr.vectors import fixed_key_material
from simulators.city import CityDevices
from simulators.traffic import Presentation, SimPassenger

NOW = datetime(2025, 6, 1, 8, 30, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys() -> KeyMaterial:
    return fixed_key_material(rotated=False)


def test_a_synced_delta_reaches_every_device_then_and_later(
    keys: KeyMaterial, tmp_path: Path
) -> None:
    phone = issue_credential(keys, credential_id=555, product="PAYG", now=NOW - timedelta(hours=1))
    phones = {555: phone}
    devices = CityDevices(
        tmp_path, keys.keyset, keys.secure_module(), DenyList(3, frozenset({9}), NOW), NOW
    )
    rider = SimPassenger(555, "bus89")

    def show(device: str, seconds: int) -> tuple[int, list[str]]:
        at = NOW + timedelta(seconds=seconds)
        outcome = devices.run([Presentation(rider, device, "bus89", "s1", "board", at)], phones, {})
        return outcome.accepted, sorted(outcome.refused)

    assert show("bus-1", 0) == (1, [])
    with pytest.raises(DenyListGapError):
        devices.apply_deny_delta(DenyListDelta(4, 5, frozenset({555}), frozenset()))
    assert devices.deny_list.version == 3
    assert show("bus-3", 60) == (1, [])  # a refused delta changed nothing

    devices.apply_deny_delta(DenyListDelta(3, 4, frozenset({555}), frozenset({9})))
    assert (devices.deny_list.version, devices.deny_list.ids) == (4, frozenset({555}))
    assert show("bus-1", 120) == (0, ["denied"])  # a device that existed
    assert show("bus-2", 180) == (0, ["denied"])  # a device created after the sync
