"""Edge values in uploaded records are stored or refused with a problem, never a 500."""

from __future__ import annotations

import json

import pytest

from tests.helpers.api import Device


@pytest.mark.parametrize(
    "overrides",
    [
        {"credential_id": str(2**64 - 1)},
        {"credential_id": "0"},
        {"device_seq": 2**63 - 1},
        {"at": "2000-01-01T00:00:00Z"},
        {"at": "2099-12-31T23:59:59-01:00"},
        {"stop_id": "é" * 64},
        {"stop_id": "m2a\u0000"},
        {"route_id": "\n"},
        {"route_id": 'a"\\b'},
    ],
)
async def test_edge_values_are_stored_or_refused_cleanly(
    device: Device, overrides: dict[str, object]
) -> None:
    body = json.dumps({"records": [device.record(**overrides)]}).encode()
    response = await device.post("/device/v1/journal", body)
    assert response.status in (200, 422), await response.text()
    if response.status == 200:
        assert (await response.json())["new"] == 1


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_implausible_tap_times_are_422_naming_the_record(device: Device, at: str) -> None:
    records = [device.record(), device.record(at=at)]
    response = await device.post("/device/v1/journal", json.dumps({"records": records}).encode())
    assert response.status == 422
    assert "$.records[1].at" in (await response.json())["detail"]


@pytest.mark.parametrize("credential_id", [str(2**64), "99999999999999999999", 2**64])
async def test_a_credential_id_over_64_bits_is_422(
    device: Device, credential_id: str | int
) -> None:
    """Was a 500: msgspec decoded any integer, and only the column refused it. Credential ids
    are decimal strings now; a number is refused as such."""
    body = json.dumps({"records": [device.record(credential_id=credential_id)]}).encode()
    response = await device.post("/device/v1/journal", body)
    assert response.status == 422, await response.text()
    assert "$.records[0].credential_id" in (await response.json())["detail"]
