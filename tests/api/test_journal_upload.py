"""Journal batch upload: stored once however often or however cut it is resent, acknowledged
after commit, only the device's own records, and bad bodies refused with problem+json."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from faregate.api.problems import PROBLEM_JSON
from tests.helpers.api import RECORDS_START, Client, Device
from ticketing.unit_of_work import UnitOfWorkFactory

JOURNAL = "/device/v1/journal"
DAY_START = RECORDS_START - timedelta(days=1)
DAY_END = RECORDS_START + timedelta(days=1)


def _body(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"records": records}).encode()


async def _upload(device: Device, records: list[dict[str, Any]]) -> dict[str, Any]:
    response = await device.post(JOURNAL, _body(records))
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def _stored(uow_factory: UnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        return await uow.taps.count()


async def test_batch_uploaded_twice_is_stored_once(
    device: Device, uow_factory: UnitOfWorkFactory
) -> None:
    records = [device.record() for _ in range(50)]
    first = await _upload(device, records)
    assert first == {
        "received": 50,
        "new": 50,
        "duplicate": 0,
        "conflicting": [],
        "quarantined": [],
    }
    assert await _stored(uow_factory) == 50  # acknowledged = committed
    again = await _upload(device, records)
    assert again == {
        "received": 50,
        "new": 0,
        "duplicate": 50,
        "conflicting": [],
        "quarantined": [],
    }
    assert await _stored(uow_factory) == 50


async def test_batch_cut_off_part_way_and_resent_is_stored_once(
    device: Device, uow_factory: UnitOfWorkFactory
) -> None:
    records = [device.record() for _ in range(40)]
    await _upload(device, records[:15])  # the connection dropped after these
    overlapping = await _upload(device, records[10:])
    assert overlapping == {
        "received": 30,
        "new": 25,
        "duplicate": 5,
        "conflicting": [],
        "quarantined": [],
    }
    assert await _stored(uow_factory) == 40


async def test_a_resent_record_with_another_body_is_reported_and_not_stored(
    device: Device, uow_factory: UnitOfWorkFactory
) -> None:
    original = device.record()
    await _upload(device, [original])
    changed = {**original, "stop_id": "M2A-05"}
    result = await _upload(device, [changed, device.record()])
    assert result == {
        "received": 2,
        "new": 1,
        "duplicate": 1,
        "conflicting": [original["device_seq"]],
        "quarantined": [],
    }
    async with uow_factory() as uow:
        taps = [t async for t in uow.taps.stream(DAY_START, DAY_END)]
    kept = {t.stop_id for t in taps if t.device_seq == original["device_seq"]}
    assert kept == {"m2a_01"}  # the first body stays


async def test_a_device_cannot_write_another_devices_sequence_numbers(
    device: Device, uow_factory: UnitOfWorkFactory
) -> None:
    mine = device.record()
    theirs = device.record(device_id="gate-victim")
    response = await device.post(JOURNAL, _body([mine, theirs]))
    assert response.status == 403
    assert response.content_type == PROBLEM_JSON
    problem = await response.json()
    assert problem["type"] == "urn:faregate:problem:foreign-records"
    assert "gate-victim" in problem["detail"]
    assert await _stored(uow_factory) == 0  # nothing of the batch was stored


async def test_invalid_records_are_422_naming_the_field(device: Device) -> None:
    cases = [
        (device.record(at="2026-11-24T08:00:00"), "timezone", "$.records[0].at"),
        (device.record(credential_id=5), "Expected `str`", "$.records[0].credential_id"),
        (device.record(credential_id="18446744073709551616"), "2^64-1", "credential_id"),
        (device.record(credential_id="-1"), "matching regex", "$.records[0].credential_id"),
        (device.record(account_id="acct-1"), "unknown field", "account_id"),
        (device.record(device_seq=0), ">= 1", "$.records[0].device_seq"),
        (device.record(kind="teleport"), "Invalid enum value", "$.records[0].kind"),
        ({**device.record(), "extra": 1}, "unknown field", "extra"),
    ]
    for record, message, where in cases:
        response = await device.post(JOURNAL, _body([record]))
        assert response.status == 422
        assert response.content_type == PROBLEM_JSON
        detail = (await response.json())["detail"]
        assert message in detail
        assert where in detail
    empty = await device.post(JOURNAL, _body([]))
    assert empty.status == 422


async def test_malformed_json_is_400(device: Device) -> None:
    response = await device.post(JOURNAL, b'{"records": [')
    assert response.status == 400
    assert response.content_type == PROBLEM_JSON
    assert (await response.json())["type"] == "urn:faregate:problem:malformed-json"


async def test_oversized_body_is_413_problem(client: Client, device: Device) -> None:
    body = b"x" * (70 * 1024)  # over the 64 KiB default of the webhook route
    response = await client.post(
        "/webhooks/stripe", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert response.content_type == PROBLEM_JSON
    assert "65536-byte limit" in (await response.json())["detail"]
    huge = await device.post(JOURNAL, b" " * (8 * 1024 * 1024 + 1))
    assert huge.status == 413
    assert huge.content_type == PROBLEM_JSON
