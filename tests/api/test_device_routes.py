"""Device reads: key set, deny list (whole and delta), fare feed with ETag, server clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from faregate.api.problems import PROBLEM_JSON
from qr.denylist import DenyList, DenyListDelta
from qr.keys import load_keyset
from tests.helpers.api import Client, Device
from tests.helpers.http import loopback
from ticketing.unit_of_work import UnitOfWorkFactory


async def test_keyset_is_the_public_document(device: Device, tmp_path: Path) -> None:
    response = await device.get("/device/v1/keyset")
    assert await response.json() == load_keyset(tmp_path / "keys").to_json()


async def test_deny_list_snapshot_and_delta(device: Device, uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.deny_list.deny_many([11, 12], "lost phone")
        await uow.deny_list.allow(11, "found")
        await uow.commit()
    snapshot = await (await device.get("/device/v1/deny-list")).json()
    assert snapshot["format"] == "faregate-deny-list/1"
    whole = DenyList.from_json(snapshot)
    assert (whole.version, whole.ids) == (3, frozenset({12}))
    assert whole.issued_at is not None
    delta = DenyListDelta.from_json(
        await (await device.get("/device/v1/deny-list/delta?since=1")).json()
    )
    assert (delta.from_version, delta.to_version) == (1, 3)
    assert (delta.added, delta.removed) == (frozenset({12}), frozenset({11}))
    # a gate at version 1 (holding 11 and 12) reaches the snapshot by applying it
    at_one = DenyList(1, frozenset({11, 12}))
    assert at_one.apply(delta).ids == whole.ids
    current = await device.get("/device/v1/deny-list/delta?since=3")
    assert current.status == 204
    assert await current.read() == b""
    assert current.headers["X-Faregate-Deny-List-Version"] == "3"


async def test_an_empty_deny_list_is_version_0(device: Device) -> None:
    snapshot = DenyList.from_json(await (await device.get("/device/v1/deny-list")).json())
    assert (snapshot.version, snapshot.ids) == (0, frozenset())
    assert (await device.get("/device/v1/deny-list/delta?since=0")).status == 204


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


async def test_the_device_client_keeps_its_deny_list_in_sync(
    client: Client, uow_factory: UnitOfWorkFactory
) -> None:
    """simulators.device_client against the server: whole list, 204, delta applied, and a
    version the server never published (409) falls back to the whole list."""

    from tests.helpers.devices import device_id, enrolled_client, gate

    transport = loopback(str(client.make_url("")))
    gate_client = await enrolled_client(uow_factory, "", device_id(), gate(), http=transport)
    try:
        held = await gate_client.sync_deny_list(None)
        assert (held.version, held.ids) == (0, frozenset())
        assert await gate_client.sync_deny_list(held) is held
        async with uow_factory() as uow:
            await uow.deny_list.deny_many([7, 8], "lost phone")
            await uow.commit()
        held = await gate_client.sync_deny_list(held)
        assert (held.version, held.ids) == (2, frozenset({7, 8}))
        async with uow_factory() as uow:
            await uow.deny_list.allow(7, "found")
            await uow.commit()
        held = await gate_client.sync_deny_list(held)
        assert (held.version, held.ids) == (3, frozenset({8}))
        lost = await gate_client.sync_deny_list(DenyList(99, frozenset({1})))
        assert (lost.version, lost.ids) == (3, frozenset({8}))
    finally:
        await gate_client.aclose()


async def test_deny_list_ids_are_strings_and_expired_credentials_leave_it(
    device: Device, uow_factory: UnitOfWorkFactory
) -> None:
    big = 2**64 - 1  # not exact as a double: strings keep it
    async with uow_factory() as uow:
        await uow.deny_list.deny_many([big, 5], "lost phone")
        await uow.commit()
    snapshot = await (await device.get("/device/v1/deny-list")).json()
    assert str(big) in snapshot["ids"]
    assert "5" in snapshot["ids"]
    assert all(isinstance(i, str) for i in snapshot["ids"])
    assert big in DenyList.from_json(snapshot)
    delta = await (
        await device.get(f"/device/v1/deny-list/delta?since={snapshot['version'] - 1}")
    ).json()
    assert all(isinstance(i, str) for i in delta["added"] + delta["removed"])
