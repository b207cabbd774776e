"""What a route reads: JSON of its media type only (415 otherwise), no object naming a key
twice (400), and no body over its limit, refused before it is read (413); each a problem
document. And what every answer says of the server: no software versions."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

from faregate.api.problems import PROBLEM_JSON
from tests.helpers.api import Client, Device

SESSIONS = "/api/v1/sessions"
JOURNAL = "/device/v1/journal"


async def test_a_body_of_another_media_type_is_415(client: Client, device: Device) -> None:
    # a user of its own: failed sign-ins are remembered in the shared Redis
    body = json.dumps({"username": f"u-{secrets.token_hex(4)}", "password": "a long password"})
    # what a cross-site form can send without asking: never read as JSON
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/json"):
        answer = await client.post(SESSIONS, data=body, headers={"Content-Type": content_type})
        assert answer.status == 415, content_type
        assert answer.content_type == PROBLEM_JSON
        assert (await answer.json())["type"] == "urn:faregate:problem:unsupported-media-type"
    upload = json.dumps({"records": [device.record()]}).encode()
    signed = {**device.headers("POST", JOURNAL, upload), "Content-Type": "text/plain"}
    assert (await client.post(JOURNAL, data=upload, headers=signed)).status == 415
    # JSON, with a charset or as a +json type, is read
    for content_type in ("application/json; charset=utf-8", "application/problem+json"):
        answer = await client.post(SESSIONS, data=body, headers={"Content-Type": content_type})
        assert answer.status == 401, content_type


async def test_a_key_named_twice_is_400(client: Client, device: Device) -> None:
    body = b'{"username": "a", "username": "b", "password": "a long password"}'
    answer = await client.post(SESSIONS, data=body, headers={"Content-Type": "application/json"})
    assert answer.status == 400
    problem = await answer.json()
    assert problem["type"] == "urn:faregate:problem:duplicate-key"
    assert "'username'" in problem["detail"]
    # a record carrying two device ids: the last would have been stored unchecked
    record = json.dumps(device.record())
    doubled = record[:-1] + ', "device_id": "another-gate"}'
    upload = f'{{"records": [{doubled}]}}'.encode()
    headers = {**device.headers("POST", JOURNAL, upload), "Content-Type": "application/json"}
    refused = await client.post(JOURNAL, data=upload, headers=headers)
    assert refused.status == 400
    assert "'device_id'" in (await refused.json())["detail"]


async def test_an_oversized_body_is_413_before_it_is_read(client: Client) -> None:
    too_big = 65 * 1024  # the sessions route reads at most 64 KiB
    declared = await client.post(
        SESSIONS, data=b"{" + b" " * too_big + b"}", headers={"Content-Type": "application/json"}
    )
    assert declared.status == 413
    assert declared.content_type == PROBLEM_JSON

    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(8 * 16):  # 8 MiB if it were all read
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    chunked = await client.post(
        SESSIONS, data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status == 413
    assert "65536-byte limit" in (await chunked.json())["detail"]


async def test_answers_name_no_software_versions(client: Client) -> None:
    for path in ("/openapi.json", "/no/such/route", "/staff/sign-in"):
        answer = await client.get(path)
        assert answer.headers["Server"] == "Faregate", path


async def test_the_openapi_document_does_not_call_itself_a_string(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    own = document["paths"]["/openapi.json"]["get"]["responses"]["200"]["content"]
    assert own["application/json"]["schema"]["type"] == "object"
    sessions = document["paths"][SESSIONS]["post"]["responses"]
    assert "415" in sessions
