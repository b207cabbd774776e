"""The operator API's devices: register (a one-time code), list (filtered, paged), revoke;
each action in the audit log under the operator; every bad request a 4xx problem."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from faregate.api.context import UOWS
from faregate.api.problems import PROBLEM_JSON
from simulators.device_client import DeviceClient, generate_device_key
from tests.helpers.api import Client, call, token
from tests.helpers.http import loopback
from ticketing.audit import AuditAction, AuditQuery, TargetKind
from ticketing.services.audit import read_audit
from ticketing.users import UserRole

DEVICES = "/api/v1/operator/devices"


async def test_register_enrol_list_and_revoke(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    tag = secrets.token_hex(3)
    registered = {}
    for device, place in [
        (f"gate-{tag}-a", {"kind": "gate", "stop_id": "m2a_03"}),
        (f"gate-{tag}-b", {"kind": "gate", "stop_id": "m2a_04"}),
        (f"val-{tag}", {"kind": "validator", "route_id": "bus32"}),
    ]:
        answer = await call(client, "POST", DEVICES, {"device_id": device, **place}, ops)
        assert answer.status == 200, await answer.text()
        registered[device] = await answer.json()
    first = registered[f"gate-{tag}-a"]
    assert {"device_id", "kind", "enrolment_code", "expires_at"} <= set(first)
    assert (first["kind"], first["stop_id"], first["lot_id"]) == ("gate", "m2a_03", None)

    async with loopback(str(client.make_url(""))) as http:
        gate = await DeviceClient.enrol(
            "", f"gate-{tag}-a", first["enrolment_code"], generate_device_key(), http=http
        )
        assert (await gate.get("/device/v1/keyset")).status_code == 200

        listed = await (await call(client, "GET", f"{DEVICES}?search={tag}", None, ops)).json()
        assert [(d["device_id"], d["status"]) for d in listed["devices"]] == [
            (f"gate-{tag}-a", "active"), (f"gate-{tag}-b", "pending"), (f"val-{tag}", "pending"),
        ]  # fmt: skip
        assert listed["next"] is None
        assert listed["devices"][0]["records"] is None  # no upload yet
        page = await (
            await call(client, "GET", f"{DEVICES}?search={tag}&limit=2", None, ops)
        ).json()
        assert [d["device_id"] for d in page["devices"]] == [f"gate-{tag}-a", f"gate-{tag}-b"]
        rest = await (
            await call(client, "GET", f"{DEVICES}?search={tag}&after={page['next']}", None, ops)
        ).json()
        assert [d["device_id"] for d in rest["devices"]] == [f"val-{tag}"]
        for query, expected in [
            ("kind=validator", [f"val-{tag}"]),
            ("status=active", [f"gate-{tag}-a"]),
            ("station=m2a_04", [f"gate-{tag}-b"]),
        ]:
            found = await (
                await call(client, "GET", f"{DEVICES}?search={tag}&{query}", None, ops)
            ).json()
            assert [d["device_id"] for d in found["devices"]] == expected, query

        revoked = await call(
            client, "POST", f"{DEVICES}/gate-{tag}-a/revoke", {"reason": "stolen"}, ops
        )
        assert await revoked.json() == {
            "device_id": f"gate-{tag}-a", "status": "revoked",
            "revoked_at": (await revoked.json())["revoked_at"], "changed": True,
        }  # fmt: skip
        assert (await gate.get("/device/v1/keyset")).status_code == 401
        again = await call(client, "POST", f"{DEVICES}/gate-{tag}-a/revoke", {}, ops)
        assert (await again.json())["changed"] is False

    audit = await read_audit(
        client.server.app[UOWS], AuditQuery(target_kind=TargetKind.DEVICE, limit=500)
    )
    mine = [e for e in audit.entries if tag in e.target.id]
    assert sorted(e.action for e in mine) == sorted(
        [AuditAction.DEVICE_ADDED] * 3 + [AuditAction.DEVICE_REVOKED]
    )
    (operator,) = {(e.actor.name, e.actor.role.value) for e in mine}  # one operator did all
    assert operator[0].startswith("operator-")
    assert operator[1] == "operator"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("POST", DEVICES, {"device_id": "g 1", "kind": "gate", "stop_id": "m2a_01"}, 422,
         "$.device_id"),
        ("POST", DEVICES, {"device_id": "g1", "kind": "tram", "stop_id": "m2a_01"}, 422,
         "$.kind"),
        ("POST", DEVICES, {"device_id": "g1", "kind": "gate"}, 422, "give --stop"),
        ("POST", DEVICES, {"device_id": "g1", "kind": "gate", "stop_id": "nowhere"}, 422,
         "no stop 'nowhere' in the fare feed"),
        ("POST", DEVICES, {"device_id": "b1", "kind": "barrier", "lot_id": "no-lot"}, 422,
         "no lot 'no-lot'"),
        ("POST", DEVICES, {"device_id": "g1", "kind": "gate", "stop_id": "m2a_01",
                           "direction": "entry"}, 422, "only a barrier has a direction"),
        ("POST", DEVICES, {"device_id": "g1", "kind": "gate", "stop_id": "m2a_01",
                           "valid_hours": 0}, 422, "$.valid_hours"),
        ("GET", f"{DEVICES}?limit=0", None, 422, "limit"),
        ("GET", f"{DEVICES}?kind=tram", None, 422, "kind"),
        ("GET", f"{DEVICES}?after=a%20b", None, 422, "after"),
        ("POST", f"{DEVICES}/ghost/revoke", {}, 404, "no device 'ghost'"),
        ("POST", f"{DEVICES}/a%20b/revoke", {}, 404, "no device"),
        ("POST", f"{DEVICES}/ghost/revoke", {"reason": ""}, 422, "$.reason"),
    ],
)  # fmt: skip
async def test_bad_requests_are_problems(
    client: Client, method: str, path: str, body: Any, status: int, detail: str
) -> None:
    ops = await token(client, UserRole.OPERATOR)
    answer = await call(client, method, path, body, ops)
    assert answer.status == status, await answer.text()
    assert answer.content_type == PROBLEM_JSON
    assert detail in (await answer.json())["detail"]


async def test_an_enrolled_device_cannot_be_registered_over(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    device = f"gate-{secrets.token_hex(3)}"
    body = {"device_id": device, "kind": "gate", "stop_id": "m2a_01"}
    code = (await (await call(client, "POST", DEVICES, body, ops)).json())["enrolment_code"]
    again = await call(client, "POST", DEVICES, body, ops)  # pending: a fresh code
    fresh = (await again.json())["enrolment_code"]
    assert fresh != code
    async with loopback(str(client.make_url(""))) as http:
        await DeviceClient.enrol("", device, fresh, generate_device_key(), http=http)
    refused = await call(client, "POST", DEVICES, body, ops)
    assert refused.status == 409
    assert "revoke it before" in (await refused.json())["detail"]
