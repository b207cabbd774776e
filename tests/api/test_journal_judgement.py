"""The backend decides who pays, over HTTP: a tap is priced on its credential's account whatever
the device says (an `account_id` is a 422), a tap it cannot attribute is acknowledged and
quarantined, finance lists and resolves it, refused decisions are counted per device, stop and
reason; bad input to each new route is a problem document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faregate.api.context import UOWS
from faregate.api.problems import PROBLEM_JSON
from qr.issue import issue_credential
from qr.vectors import fixed_key_material
from simulators.gate import OfflineGate
from tests.helpers.api import RECORDS_START, Client, Device, call, token
from tests.helpers.devices import device_id as new_device_id
from tests.helpers.devices import enrolled_client, gate
from tests.helpers.payments import add_rider
from ticketing.service_day import service_day
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import UserRole

JOURNAL = "/device/v1/journal"
QUARANTINE = "/api/v1/finance/quarantine"


async def _upload(device: Device, records: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    body = json.dumps({"records": records, **more}).encode()
    response = await device.post(JOURNAL, body)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_a_tap_is_on_the_credentials_account_and_an_account_id_is_refused(
    client: Client, device: Device, uow_factory: UnitOfWorkFactory
) -> None:
    rider_a, credential_a = device.accounts[0], device.credentials[0]
    claimed = device.record(credential_id=str(credential_a), account_id=device.accounts[1])
    refused = await device.post(JOURNAL, json.dumps({"records": [claimed]}).encode())
    assert refused.status == 422
    assert refused.content_type == PROBLEM_JSON
    assert "unknown field `account_id`" in (await refused.json())["detail"]
    tap = device.record(credential_id=str(credential_a), step=59_017_560)
    assert (await _upload(device, [tap]))["quarantined"] == []
    async with uow_factory() as uow:
        window = (RECORDS_START - timedelta(days=1), RECORDS_START + timedelta(days=1))
        mine = await uow.taps.for_account(rider_a, *window)
        others = [await uow.taps.for_account(a, *window) for a in device.accounts[1:]]
        queued = await uow.pricing_queue.queued()
    assert [(t.device_seq, t.step) for t in mine] == [(tap["device_seq"], 59_017_560)]
    assert not any(others)
    assert {account for account, _ in queued} == {rider_a}


async def test_a_tap_dated_before_its_gate_was_enrolled_is_quarantined(client: Client) -> None:
    fresh = await Device.enrol(client, since=None)  # enrolled now: after RECORDS_START
    early = fresh.record()
    answer = await _upload(fresh, [early])
    assert (answer["new"], answer["quarantined"]) == (
        1, [{"device_seq": early["device_seq"], "reason": "before-enrolment"}],
    )  # fmt: skip


async def test_unattributable_taps_are_acknowledged_and_finance_resolves_them(
    client: Client, device: Device
) -> None:
    unknown = device.record(credential_id="98765432109876543210"[:19])
    elsewhere = device.record(stop_id="m2a_07")
    answer = await _upload(device, [unknown, elsewhere])
    assert answer["new"] == 2
    assert answer["quarantined"] == [
        {"device_seq": unknown["device_seq"], "reason": "unknown-credential"},
        {"device_seq": elsewhere["device_seq"], "reason": "wrong-place"},
    ]
    day = service_day(RECORDS_START + timedelta(seconds=unknown["device_seq"])).isoformat()
    fin = await token(client, UserRole.FINANCE)
    listed = await (await call(client, "GET", f"{QUARANTINE}?day={day}", None, fin)).json()
    by_reason = {t["reason"]: t for t in listed["taps"]}
    assert by_reason["unknown-credential"]["credential_id"] == unknown["credential_id"]
    exceptions = await (
        await call(client, "GET", f"/api/v1/finance/exceptions?day={day}", None, fin)
    ).json()
    assert {e["kind"] for e in exceptions["exceptions"]} == {"quarantined_tap"}

    tap_id = by_reason["unknown-credential"]["id"]
    resolve = f"{QUARANTINE}/{tap_id}/resolve"
    body = {"resolution": "attribute", "account_id": device.accounts[2], "reason": "desk"}
    done = await call(client, "POST", resolve, body, fin)
    assert done.status == 200, await done.text()
    resolved = await done.json()
    assert (resolved["status"], resolved["account_id"]) == ("attributed", device.accounts[2])
    again = await call(client, "POST", resolve, body, fin)
    assert again.status == 409
    assert again.content_type == PROBLEM_JSON

    bad: list[tuple[str, Any, int]] = [
        (f"{QUARANTINE}/0/resolve", body, 404),
        (f"{QUARANTINE}/abc/resolve", body, 404),
        (f"{QUARANTINE}/{10**12}/resolve", body, 404),
        (f"{QUARANTINE}/{by_reason['wrong-place']['id']}/resolve",
         {**body, "account_id": "nobody"}, 422),
        (f"{QUARANTINE}/{by_reason['wrong-place']['id']}/resolve",
         {"resolution": "write_off", "reason": ""}, 422),
        (f"{QUARANTINE}/{by_reason['wrong-place']['id']}/resolve",
         {"resolution": "forgive", "reason": "x"}, 422),
        (f"{QUARANTINE}/{by_reason['wrong-place']['id']}/resolve", {**body, "extra": 1}, 422),
    ]  # fmt: skip
    for path, payload, status in bad:
        response = await call(client, "POST", path, payload, fin)
        assert response.status == status, (path, payload, await response.text())
        assert response.content_type == PROBLEM_JSON
    for query in ("day=yesterday", "day=2026-11-24&status=lost", "", "day=2026-11-24&x=1"):
        response = await call(client, "GET", f"{QUARANTINE}?{query}", None, fin)
        assert response.status == 422, query
        assert response.content_type == PROBLEM_JSON
    ops = await token(client, UserRole.OPERATOR)
    assert (await call(client, "GET", f"{QUARANTINE}?day={day}", None, ops)).status == 403


async def test_refusals_are_counted_per_device_stop_and_reason(
    client: Client, device: Device
) -> None:
    other = await Device.enrol(client, binding=gate("m2a_05"))

    def refusal(dev: Device, reason: str, **more: Any) -> dict[str, Any]:
        dev.seq += 1
        at = (RECORDS_START + timedelta(seconds=dev.seq)).isoformat()
        return {"device_id": dev.id, "device_seq": dev.seq, "at": at, "reason": reason,
                "stop_id": "m2a_01" if dev is device else "m2a_05", **more}  # fmt: skip

    mine = [
        refusal(device, "denied", credential_id="12", deny_list_version=4),
        refusal(device, "denied", deny_list_stale=True),
        refusal(device, "replayed", step=59017560),
    ]
    first = await _upload(device, [device.record()], refusals=mine)
    assert (first["received"], first["new"]) == (4, 4)
    again = await _upload(device, [], refusals=mine)  # resent: counted once
    assert (again["new"], again["duplicate"]) == (0, 3)
    await _upload(other, [], refusals=[refusal(other, "denied")])
    ops = await token(client, UserRole.OPERATOR)
    since = (RECORDS_START - timedelta(hours=1)).isoformat().replace("+", "%2B")
    counts = await (
        await call(client, "GET", f"/api/v1/operator/refusals?since={since}", None, ops)
    ).json()
    found = {(c["device_id"], c["stop_id"], c["reason"]): c["count"] for c in counts["counts"]}
    assert found == {
        (device.id, "m2a_01", "denied"): 2,
        (device.id, "m2a_01", "replayed"): 1,
        (other.id, "m2a_05", "denied"): 1,
    }
    path = f"/api/v1/operator/refusals?since={since}&device={other.id}"
    only = await (await call(client, "GET", path, None, ops)).json()
    assert [c["device_id"] for c in only["counts"]] == [other.id]
    metrics = await (await client.get("/metrics")).text()
    labels = f'device="{device.id}",reason="denied",stop="m2a_01"'
    assert f"faregate_device_refusals_total{{{labels}}} 2.0" in metrics
    for query in ("since=yesterday", "device=%20", "since=2026-11-24T00:00:00", "x=1"):
        response = await call(client, "GET", f"/api/v1/operator/refusals?{query}", None, ops)
        assert response.status == 422, query
        assert response.content_type == PROBLEM_JSON
    for bad in (
        {"refusals": [{**refusal(device, "denied"), "reason": "Not Allowed!"}]},
        {"refusals": [{**refusal(device, "denied"), "credential_id": 12}]},
        {"records": [], "refusals": []},
        {},
    ):
        response = await device.post(JOURNAL, json.dumps(bad).encode())
        assert response.status == 422, bad
        assert response.content_type == PROBLEM_JSON


async def test_a_simulated_gate_uploads_its_journal_as_the_document_says(
    client: Client, uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    """The reference device end to end: a rider's phone at an offline gate (accepted, then the
    same code replayed), the gate's journal uploaded by the reference client; the tap is the
    rider's and the refusal counted."""
    uows = client.server.app[UOWS]
    account, [credential] = await add_rider(uows, credentials=1)
    keys = fixed_key_material(rotated=False)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    phone = issue_credential(
        keys, credential_id=credential, product="WALLET", now=now - timedelta(hours=1)
    )
    gate_id = new_device_id("gate")
    offline = OfflineGate(
        gate_id, keys.keyset, keys.secure_module(), tmp_path / "gate.sqlite", clock=lambda: now
    )
    code = phone.token_at(now)
    assert offline.present_text(code, now).accepted
    assert not offline.present_text(code, now + timedelta(seconds=3)).accepted  # replayed
    taps, refusals = offline.journal.batch(0, route_id="m2a", stop_id="m2a_01", kind="entry")
    offline.close()
    reference = await enrolled_client(
        uows, str(client.make_url("")), gate_id, gate(), since=now - timedelta(hours=1)
    )
    try:
        answer = await reference.upload(taps, refusals)
    finally:
        await reference.aclose()
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "received": 2, "new": 2, "duplicate": 0, "conflicting": [], "quarantined": [],
    }  # fmt: skip
    async with uow_factory() as uow:
        mine = await uow.taps.for_account(
            account, now - timedelta(hours=1), now + timedelta(hours=1)
        )
        counted = await uow.journal.refusal_counts(now - timedelta(hours=1), device_id=gate_id)
    assert [(t.credential_id, t.stop_id) for t in mine] == [(credential, "m2a_01")]
    assert [(c.stop_id, c.reason, c.count) for c in counted] == [("m2a_01", "replayed", 1)]
