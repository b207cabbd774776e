"""Device reads: key set, deny list (whole and delta), fare feed with ETag, server clock."""

from __future__ import annotations

from datetime import UTC, datetime

from faregate.api.problems import PROBLEM_JSON
from qr.keys import load_keyset
from ticketing.unit_of_work import UnitOfWorkFactory

from .conftest import Client, Device


async def test_keyset_is_the_public_document(device: Device, tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    response = await device.get("/device/v1/keyset")
    assert await response.json() == load_keyset(tmp_path / "keys").to_json()


async def test_deny_list_snapshot_and_delta(device: Device, uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.deny_list.deny_many([11, 12], "lost phone")
        await uow.deny_list.allow(11, "found")
        await uow.commit()
    snapshot = await (await device.get("/device/v1/deny-list")).json()
    assert snapshot == {"version": 3, "credential_ids": [12]}
    delta = await (await device.get("/device/v1/deny-list/delta?since=1")).json()
    assert delta["since"] == 1
    assert delta["version"] == 3
    assert [(e["version"], e["credential_id"], e["action"]) for e in delta["events"]] == [
        (2, 12, "add"),
        (3, 11, "remove"),
    ]
    assert datetime.fromisoformat(delta["events"][0]["at"]).tzinfo is not None
    current = await (await device.get("/device/v1/deny-list/delta?since=3")).json()
    assert current["events"] == []


async def test_deny_list_delta_from_an_unknown_version_is_409(device: Device) -> None:
    response = await device.get("/device/v1/deny-list/delta?since=99")
    assert response.status == 409
    assert response.content_type == PROBLEM_JSON
    assert "fetch a snapshot" in (await response.json())["detail"]


async def test_deny_list_delta_query_is_validated(device: Device) -> None:
    for query in ("", "?since=-1", "?since=abc", "?since=1&other=2"):
        response = await device.get(f"/device/v1/deny-list/delta{query}")
        assert response.status == 422, query
        assert (await response.json())["type"] == "urn:faregate:problem:validation"


async def test_fare_feed_etag_and_304(device: Device) -> None:
    first = await device.get("/device/v1/fare-feed")
    assert first.status == 200
    feed = await first.json()
    assert "fare_products.txt" in feed["files"]
    assert first.headers["ETag"] == f'"{feed["version"]}"'
    same = await device.get("/device/v1/fare-feed", **{"If-None-Match": first.headers["ETag"]})
    assert same.status == 304
    assert same.headers["ETag"] == first.headers["ETag"]
    stale = await device.get("/device/v1/fare-feed", **{"If-None-Match": '"old"'})
    assert stale.status == 200


async def test_clock_needs_no_signature(client: Client) -> None:
    before = datetime.now(UTC)
    body = await (await client.get("/device/v1/clock")).json()
    now = datetime.fromisoformat(body["now"])
    assert before <= now <= datetime.now(UTC)
    assert body["unix_ms"] == int(now.timestamp() * 1000)
