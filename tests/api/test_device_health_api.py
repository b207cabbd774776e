"""Devices' health for operators: `GET /api/v1/operator/devices` lists every device with its
state, what its last heartbeat says it holds and its alarms; `GET /metrics` exports devices by
state and alarms by kind; bad queries are 4xx problems."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from faregate.api.context import UOWS
from simulators.device_client import refusal_record, tap_record
from tests.helpers.api import Client, call, token
from tests.helpers.devices import TESTS, enrolled_client, gate, register, validator
from tests.helpers.http import loopback
from ticketing.services.devices import revoke_device
from ticketing.users import UserRole

DEVICES = "/api/v1/operator/devices"


def _gauge(text: str, name: str, label: str, value: str) -> float:
    found = re.search(rf'^{name}\{{{label}="{value}"\}} ([0-9.e+]+)$', text, re.MULTILINE)
    assert found, f"{name}{{{label}={value}}} not in /metrics"
    return float(found.group(1))


async def test_every_device_with_its_state_holdings_and_alarms(client: Client) -> None:
    uows = client.server.app[UOWS]
    ops = await token(client, UserRole.OPERATOR)
    tag = secrets.token_hex(3)
    await register(uows, f"val-{tag}", validator())  # pending
    async with loopback(str(client.make_url(""))) as http:
        healthy = await enrolled_client(uows, "", f"gate-{tag}-a", gate("m2a_03"), http=http)
        faulty = await enrolled_client(uows, "", f"gate-{tag}-b", gate("m2a_04"), http=http)
        gone = await enrolled_client(uows, "", f"gate-{tag}-c", gate("m2a_04"), http=http)
        config = await healthy.configuration(None)
        deny_list = await healthy.sync_deny_list(None)
        answer = await healthy.heartbeat(
            "fw-2.4.1", config=config, key_set_version="k1", deny_list=deny_list
        )
        assert answer.status_code == 200, answer.text
        answer = await faulty.heartbeat("fw-2.3.0", faults=[{"code": "nfc.reader"}])
        assert answer.status_code == 200, answer.text
        await revoke_device(uows, gone.device_id, by=TESTS)
        for device in (healthy, faulty, gone):
            await device.aclose()

    listed = await call(client, "GET", f"{DEVICES}?search={tag}", None, ops)
    assert listed.status == 200, await listed.text()
    devices = {d["device_id"]: d for d in (await listed.json())["devices"]}
    a, b, c = (devices[f"gate-{tag}-{x}"] for x in "abc")
    v = devices[f"val-{tag}"]
    assert (a["state"], b["state"], c["state"], v["state"]) == (
        "online", "online", "revoked", "pending",
    )  # fmt: skip
    assert a["holds"]["software_version"] == "fw-2.4.1"
    assert a["holds"]["config_version"] == config["version"]
    assert a["holds"]["deny_list_version"] == deny_list.version
    assert a["holds"]["key_set_version"] == "k1"
    assert a["alarms"] == []
    assert a["last_seen_at"] is not None
    assert [(x["kind"], x["detail"]) for x in b["alarms"]] == [
        ("stale_deny_list", "holds no deny list"),
        ("device_fault", "nfc.reader"),
    ]
    assert b["holds"]["faults"] == [{"code": "nfc.reader", "detail": None, "since": None}]
    assert v["holds"] is None
    assert v["alarms"] == []

    by_station = await call(client, "GET", f"{DEVICES}?search={tag}&station=m2a_04", None, ops)
    assert [d["device_id"] for d in (await by_station.json())["devices"]] == [
        f"gate-{tag}-b", f"gate-{tag}-c",
    ]  # fmt: skip

    metrics = await (await client.get("/metrics")).text()
    assert _gauge(metrics, "faregate_devices", "state", "online") >= 2
    assert _gauge(metrics, "faregate_devices", "state", "revoked") >= 1
    assert _gauge(metrics, "faregate_devices", "state", "pending") >= 1
    assert _gauge(metrics, "faregate_device_alarms", "kind", "device_fault") >= 1
    assert _gauge(metrics, "faregate_device_alarms", "kind", "journal_gap") >= 0


async def test_a_device_that_sends_a_record_again_changed_or_refuses_many_sounds_an_alarm(
    client: Client,
) -> None:
    uows = client.server.app[UOWS]
    ops = await token(client, UserRole.OPERATOR)
    tag = secrets.token_hex(3)
    now = datetime.now(UTC)
    async with loopback(str(client.make_url(""))) as http:
        changed = await enrolled_client(uows, "", f"gate-{tag}-a", gate("m2a_03"), http=http)
        refusing = await enrolled_client(uows, "", f"gate-{tag}-b", gate("m2a_03"), http=http)
        place = {"route_id": "m2a", "stop_id": "m2a_03", "kind": "entry"}
        first = tap_record(changed.device_id, 1, 4242, now, **place)
        assert (await changed.upload([first])).status_code == 200
        again = await changed.upload([tap_record(changed.device_id, 1, 4343, now, **place)])
        assert again.json()["conflicting"] == [1]  # what only the device heard until now
        refusals = [
            refusal_record(refusing.device_id, seq, now, "replayed", stop_id="m2a_03")
            for seq in range(1, 31)
        ]
        assert (await refusing.upload([], refusals)).status_code == 200
        for device in (changed, refusing):
            await device.aclose()

    listed = await call(client, "GET", f"{DEVICES}?search={tag}", None, ops)
    alarms = {d["device_id"]: d["alarms"] for d in (await listed.json())["devices"]}
    assert [(x["kind"], x["detail"][:35]) for x in alarms[f"gate-{tag}-a"]] == [
        ("conflicting_records", "1 record sent again with another bo"),
    ]
    assert [(x["kind"], x["detail"]) for x in alarms[f"gate-{tag}-b"]] == [
        ("refusal_spike", "30 refusals in the last 15 min"),
    ]
    metrics = await (await client.get("/metrics")).text()
    assert _gauge(metrics, "faregate_device_alarms", "kind", "conflicting_records") >= 1
    assert _gauge(metrics, "faregate_device_alarms", "kind", "refusal_spike") >= 1


async def test_bad_device_queries_are_problems(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    for query in ("limit=0", "limit=x", "kind=printer", "after=%20", "station=a%20b", "nope=1"):
        answer = await call(client, "GET", f"{DEVICES}?{query}", None, ops)
        assert answer.status in (400, 422), query
        assert answer.content_type == "application/problem+json"
