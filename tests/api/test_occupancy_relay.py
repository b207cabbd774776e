"""Live occupancy reaches the operator pages of every server process (Redis pub/sub), and only
those on the same database; a bad message or a failed publish loses nothing else.

Each test subscribes to the pages' broadcaster before anything is published, so no test waits
for a subscription to happen; the test that drops Redis's subscribers does it on a private
redis-server of its own, never on the Redis other test runs share.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from faregate.api.app import create_app
from faregate.api.context import CONFIG, ENGINE, REDIS, ApiConfig
from faregate.api.occupancy_relay import channel_for, publish_occupancy
from faregate.web.occupancy import OCCUPANCY, LotOccupancy
from gateways.localstripe_server import LocalStripe
from parking.records import LotConfig
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.api import RECORDS_START, Client, Device, make_config
from tests.helpers.devices import barrier
from tests.helpers.parking import open_lot
from tests.helpers.waiting import until

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
async def second(api_config: ApiConfig) -> AsyncIterator[Client]:
    """Another server process's app on the same database and Redis."""
    async with TestClient(TestServer(create_app(api_config))) as test_client:
        yield test_client


def channel_of(client: Client) -> str:
    return channel_for(client.server.app[CONFIG].settings.effective_database_url)


def lot(lot_id: str, occupied: int) -> LotOccupancy:
    return LotOccupancy(
        lot_id=lot_id,
        name=lot_id,
        capacity=40,
        occupied=occupied,
        free=max(40 - occupied, 0),
        updated_at=AT,
    )


@asynccontextmanager
async def pages_of(client: Client) -> AsyncIterator[asyncio.Queue[LotOccupancy | None]]:
    """What an open operator page of `client`'s process gets, from now on."""
    async with client.server.app[OCCUPANCY].subscribe() as queue:
        yield queue


async def heard(queue: asyncio.Queue[LotOccupancy | None], lot_id: str) -> LotOccupancy:
    """The next update of `lot_id` on a page's queue."""
    while True:
        update = await asyncio.wait_for(queue.get(), timeout=10)
        assert update is not None
        if update.lot_id == lot_id:
            return update


async def test_an_update_published_by_one_process_reaches_the_pages_of_both(
    client: Client, second: Client
) -> None:
    lot_id = f"lot-{secrets.token_hex(4)}"
    async with pages_of(client) as on_first, pages_of(second) as on_second:
        await publish_occupancy(client.server.app, lot(lot_id, 7))
        assert (await heard(on_first, lot_id)).occupied == 7
        assert await heard(on_second, lot_id) == lot(lot_id, 7)


async def test_a_barrier_upload_to_one_process_moves_the_other_ones_page(
    client: Client, second: Client
) -> None:
    lot_id = f"lot-{secrets.token_hex(4)}"
    config = LotConfig(
        lot_id=lot_id, name="Vincom car park", operator="vincom-parking", capacity=100,
        reserved=0, passback="hard",
        hold_amount=0, currency="VND",
    )  # fmt: skip
    await open_lot(ParkingUnitOfWorkFactory(client.server.app[ENGINE]), config)
    device = await Device.enrol(client, f"barrier-{secrets.token_hex(4)}", barrier(lot_id))
    entry = {
        "device_id": device.id, "seq": 1, "lot_id": lot_id, "kind": "entry",
        "at": RECORDS_START.isoformat(), "reason": "ok", "plate": "29A-123.45",
        "vehicle": "car",
    }  # fmt: skip
    async with pages_of(second) as on_second:
        body = json.dumps({"lot_id": lot_id, "records": [entry]}).encode()
        response = await device.post("/device/v1/parking/journal", body)
        assert response.status == 200, await response.text()
        update = await heard(on_second, lot_id)
    assert (update.capacity, update.occupied) == (100, 1)


async def test_processes_on_another_database_hear_nothing(client: Client) -> None:
    redis = client.server.app[REDIS]
    ours = channel_of(client)
    assert channel_for("postgresql+asyncpg://postgres@127.0.0.1:5432/elsewhere") != ours
    assert channel_for("postgresql+asyncpg://u:one@db/x") == channel_for("postgresql://u:two@db/x")
    lot_id, marker = f"lot-{secrets.token_hex(4)}", f"lot-{secrets.token_hex(4)}"
    other = channel_for("sqlite+aiosqlite:////elsewhere/faregate.db")
    async with pages_of(client) as pages:
        await redis.publish(other, json.dumps(lot(lot_id, 3).to_json()))
        # Published after the other database's update on the same connection, so a relay that
        # heard the other channel would have delivered that update first.
        await publish_occupancy(client.server.app, lot(marker, 1))
        first = await asyncio.wait_for(pages.get(), timeout=10)
    assert first == lot(marker, 1)


async def test_a_message_that_does_not_parse_is_skipped_and_the_relay_goes_on(
    client: Client,
) -> None:
    app = client.server.app
    channel = channel_of(client)
    lot_id = f"lot-{secrets.token_hex(4)}"
    async with pages_of(client) as pages:
        for garbage in ("not json", "[]", json.dumps({"lot_id": lot_id}), '{"updated_at": 5}'):
            await app[REDIS].publish(channel, garbage)
        await publish_occupancy(app, lot(lot_id, 9))
        assert (await heard(pages, lot_id)).occupied == 9


async def _subscriber_ids(redis: Redis) -> set[str]:
    clients = await redis.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
    text = clients.decode() if isinstance(clients, bytes) else str(clients)
    return {field[3:] for line in text.splitlines() for field in line.split() if field[:3] == "id="}


async def test_a_dropped_subscription_is_made_again(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    # A private redis-server (redis_url=None): dropping every subscriber of the shared one
    # would drop other test runs' relays too.
    config = make_config(tmp_path, db_url, localstripe_server, redis_url=None)
    async with TestClient(TestServer(create_app(config))) as client:
        app = client.server.app
        redis = app[REDIS]
        lot_id = f"lot-{secrets.token_hex(4)}"
        dropped = await _subscriber_ids(redis)
        assert len(dropped) == 1  # the relay
        await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

        async def subscribed_again() -> bool:
            numsub = dict(await redis.pubsub_numsub(channel_of(client)))
            again = (await _subscriber_ids(redis)) - dropped
            return bool(again) and numsub.get(channel_of(client).encode(), 0) == 1

        await until(subscribed_again, "the relay subscribes again")
        async with pages_of(client) as pages:
            await publish_occupancy(app, lot(lot_id, 2))
            assert (await heard(pages, lot_id)).occupied == 2


async def test_without_redis_the_update_still_reaches_this_processes_pages(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client.server.app

    async def refused(*args: Any, **kwargs: Any) -> int:
        raise RedisConnectionError("Redis is down")

    monkeypatch.setattr(app[REDIS], "publish", refused)
    lot_id = f"lot-{secrets.token_hex(4)}"
    async with pages_of(client) as pages:
        await publish_occupancy(app, lot(lot_id, 4))
        assert (await heard(pages, lot_id)).occupied == 4


def test_an_occupancy_survives_its_json() -> None:
    local = datetime.fromisoformat("2026-11-30T15:04:05.123456+07:00")
    update = LotOccupancy(lot_id="l", name="Lot", capacity=3, occupied=5, free=0, updated_at=local)
    assert LotOccupancy.from_json(json.loads(json.dumps(update.to_json()))) == update
