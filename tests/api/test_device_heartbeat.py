"""`POST /device/v1/heartbeat`: a device reports what it holds and how it is; the latest is
kept per device; bad heartbeats are 422 problems, unsigned or revoked devices 401."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from faregate.api.context import UOWS
from faregate.api.problems import PROBLEM_JSON
from simulators.city import CityDevices, DevicePlace
from tests.helpers.api import Client, Device
from tests.helpers.devices import TESTS, device_id, enrolled_client, gate, register
from tests.helpers.http import loopback
from ticketing.services.devices import revoke_device

HEARTBEAT = "/device/v1/heartbeat"


async def _latest(client: Client, device: str) -> Any:
    async with client.server.app[UOWS]() as uow:
        return (await uow.device_health.latest([device])).get(device)


async def test_the_reference_device_reports_and_the_latest_is_kept(client: Client) -> None:
    async with loopback(str(client.make_url(""))) as http:
        gate_client = await enrolled_client(
            client.server.app[UOWS], "", device_id(), gate("m2a_03"), http=http
        )
        config = await gate_client.configuration(None)
        deny_list = await gate_client.sync_deny_list(None)
        waiting = [{"at": "2026-01-01T00:00:00+00:00"}, {"at": "2026-01-01T00:01:00+00:00"}]
        answer = await gate_client.heartbeat(
            "gate-fw 2.4.1", config=config, key_set_version="k1", deny_list=deny_list,
            waiting=waiting, faults=[{"code": "printer.paper_low", "detail": "under 10%"}],
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["device_id"] == gate_client.device_id
        assert body["heartbeat_interval_seconds"] == 60
        stored = await _latest(client, gate_client.device_id)
        beat = stored.heartbeat
        assert (beat.software_version, beat.config_version) == ("gate-fw 2.4.1", config["version"])
        assert (beat.key_set_version, beat.deny_list_version) == ("k1", deny_list.version)
        assert beat.records_waiting == 2
        assert beat.oldest_waiting_seconds > 0
        assert [(f.code, f.detail) for f in beat.faults] == [("printer.paper_low", "under 10%")]
        again = await gate_client.heartbeat("gate-fw 2.5.0")
        assert again.status_code == 200
        latest = (await _latest(client, gate_client.device_id)).heartbeat
        assert (latest.software_version, latest.records_waiting, latest.faults) == (
            "gate-fw 2.5.0", 0, ()
        )  # fmt: skip
        assert latest.config_version is None  # it said it holds none
        await gate_client.aclose()


async def test_the_simulated_devices_report_on_the_configured_interval_of_their_clock(
    client: Client, tmp_path: Path
) -> None:
    uows = client.server.app[UOWS]
    now = [datetime.now(UTC)]  # the devices' clock, moved by hand (signed requests carry it)
    ids = [device_id(), device_id()]
    codes = {d: await register(uows, d, gate("m2a_03")) for d in ids}
    place = DevicePlace(route_id="m2a", stop_id="m2a_03", action="entry")

    async def reported() -> list[datetime]:
        return [(await _latest(client, d)).heartbeat.device_time for d in ids]

    async with loopback(str(client.make_url(""))) as http:
        devices = CityDevices(http, tmp_path, clock=lambda: now[0], device_clock=lambda: now[0])
        await devices.enrol(codes, dict.fromkeys(ids, place))
        fleet = devices.online()
        interval = timedelta(seconds=60)  # what their configuration says
        assert {d.settings and d.settings.heartbeat_interval for d in fleet} == {interval}
        assert await devices.heartbeats(fleet) == 2  # the first is due at once
        first = await reported()
        now[0] += interval - timedelta(seconds=1)
        await devices.upload_round(fleet)  # an upload round is no heartbeat
        assert await devices.heartbeats(fleet) == 0
        assert await reported() == first
        now[0] += timedelta(seconds=1)
        assert await devices.heartbeats(fleet) == 2
        second = await reported()
        moved = [b - a for a, b in zip(first, second, strict=True)]
        assert all(abs(step - interval) < timedelta(seconds=1) for step in moved)
        now[0] += 3 * interval + timedelta(seconds=5)  # three intervals missed: one heartbeat
        assert await devices.heartbeats(fleet) == 2
        assert await devices.heartbeats(fleet) == 0
        devices.close()


@pytest.mark.parametrize(
    ("body", "slug", "says"),
    [
        ({}, "validation", "software_version"),
        ({"software_version": " 2.4"}, "invalid-heartbeat", "printable"),
        ({"software_version": "1", "config_version": "a b"}, "invalid-heartbeat", "printable"),
        ({"software_version": "1", "records_waiting": 3}, "invalid-heartbeat", "oldest"),
        ({"software_version": "1", "oldest_waiting_seconds": 5}, "invalid-heartbeat", "without"),
        ({"software_version": "1", "records_waiting": -1}, "validation", "records_waiting"),
        ({"software_version": "1", "deny_list_version": 2**64}, "validation", "deny_list"),
        ({"software_version": "1", "faults": [{"code": "Bad Code"}]}, "invalid-heartbeat", "fault"),
        (
            {"software_version": "1", "faults": [{"code": "a"}, {"code": "a"}]},
            "invalid-heartbeat",
            "once",
        ),
        ({"software_version": "1", "faults": [{"code": "a"}] * 33}, "validation", "faults"),
        ({"software_version": "1", "device_time": "2026-01-01T00:00:00"}, "validation", "time"),
        ({"software_version": "1", "account_id": "x"}, "validation", "account_id"),
        (
            {"software_version": "1", "device_time": "9999-12-31T23:59:59-14:00"},
            "invalid-heartbeat",
            "outside",
        ),
        (
            {"software_version": "1", "faults": [{"code": "a", "since": "0001-01-01T00:00:00Z"}]},
            "invalid-heartbeat",
            "outside",
        ),
        ({"software_version": 7}, "validation", "software_version"),
    ],
)
async def test_a_bad_heartbeat_is_a_422_problem(
    device: Device, body: dict[str, Any], slug: str, says: str
) -> None:
    answer = await device.post(HEARTBEAT, json.dumps(body).encode())
    assert answer.status == 422, await answer.text()
    assert answer.content_type == PROBLEM_JSON
    problem = await answer.json()
    assert problem["type"].endswith(slug)
    assert says in json.dumps(problem)


async def test_not_json_and_unsigned_and_revoked_are_refused(
    client: Client, device: Device
) -> None:
    assert (await device.post(HEARTBEAT, b"{not json")).status == 400
    unsigned = await client.post(HEARTBEAT, json={"software_version": "1"})
    assert unsigned.status == 401
    await revoke_device(client.server.app[UOWS], device.id, by=TESTS)
    revoked = await device.post(HEARTBEAT, b'{"software_version":"1"}')
    assert revoked.status == 401
    assert (await revoked.json())["type"].endswith("device-revoked")
