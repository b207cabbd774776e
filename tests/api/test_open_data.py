"""`GET /open-data/parking`: public, cached a few seconds, every item valid against ParkAPI's
published parking-site schema (tests/fixtures/parkapi, with its source and licence), with the
operator API's free spaces; and a lot's history feed (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from faregate.api.context import REDIS
from faregate.api.routes.open_data import CACHE_SECONDS, FEED_CACHE
from parking.occupancy import Occupancy
from tests.helpers.api import Client, call, token
from tests.helpers.parking_api import created, problem
from ticketing.users import UserRole

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "parkapi" / "parking-site.json").read_text()
)


async def test_the_feed_validates_and_matches_the_operator_api(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    street = await created(client, ops, address="Lê Thái Tổ, Hoàn Kiếm, Hà Nội")
    mall = await created(client, ops, kind="car-park", capacity=300, reserved=10)
    hidden = await created(client, ops, latitude=None, longitude=None)  # no place to publish
    occupancy = Occupancy(client.server.app[REDIS])
    for _ in range(3):
        await occupancy.enter(street["lot_id"])
    await occupancy.enter(mall["lot_id"])

    answer = await client.get("/open-data/parking")  # no sign-in: public
    assert answer.status == 200, await answer.text()
    assert answer.content_type == "application/json"
    assert answer.headers["Cache-Control"] == "public, max-age=5"
    feed: dict[str, Any] = await answer.json()
    assert set(feed) == {"items", "total_count"}
    assert feed["total_count"] == len(feed["items"])
    validator = Draft202012Validator(SCHEMA)
    for item in feed["items"]:
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(item)]
        assert errors == [], item
    by_id = {item["original_uid"]: item for item in feed["items"]}
    assert hidden["lot_id"] not in by_id
    api = await (await call(client, "GET", "/api/v1/operator/lots", None, ops)).json()
    free = {lot["lot_id"]: lot["free"] for lot in api["lots"]}
    for lot, expected in ((street, 25), (mall, 289)):  # reserved spaces are not free to all
        site = by_id[lot["lot_id"]]
        assert site["realtime_free_capacity"] == free[lot["lot_id"]] == expected
        assert site["capacity"] == lot["capacity"]
    assert by_id[street["lot_id"]]["type"] == "ON_STREET"
    assert by_id[street["lot_id"]]["operator_name"] != "iparking-hanoi"  # the registry's name
    for lot in (street, mall):
        await occupancy.forget(lot["lot_id"])


async def test_the_feed_is_cached_for_a_few_seconds(client: Client) -> None:
    cache = client.server.app[FEED_CACHE]
    seconds = [100.0]
    cache.now = lambda: seconds[0]  # the cache's own clock, stopped
    ops = await token(client, UserRole.OPERATOR)
    first = await (await client.get("/open-data/parking")).json()
    lot = await created(client, ops)
    seconds[0] += CACHE_SECONDS - 0.5
    again = await (await client.get("/open-data/parking")).json()
    assert again == first  # within the cache's seconds: the same answer
    assert lot["lot_id"] not in {item["original_uid"] for item in again["items"]}
    seconds[0] += 1
    fresh = await (await client.get("/open-data/parking")).json()
    assert lot["lot_id"] in {item["original_uid"] for item in fresh["items"]}


async def test_a_lots_history_feed(client: Client) -> None:
    ops = await token(client, UserRole.OPERATOR)
    lot = await created(client, ops)
    today = (datetime.now(UTC) + timedelta(hours=7)).date()
    path = f"/open-data/parking/{lot['lot_id']}/history"
    for query in ("", f"?day={today.isoformat()}"):
        answer = await client.get(path + query)
        assert answer.status == 200, await answer.text()
        history = await answer.json()
        assert history["total_count"] == len(history["items"]) >= 1
        first = history["items"][0]
        assert (first["original_uid"], first["capacity"]) == (lot["lot_id"], 30)
        assert first["realtime_free_capacity"] == 28  # empty, 2 reserved
        stamps = [datetime.fromisoformat(i["realtime_data_updated_at"]) for i in history["items"]]
        assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(stamps))
    for where, status, kind in [
        (f"{path}?day=2026-02-30", 422, "validation"),
        (f"{path}?day=yesterday", 422, "validation"),
        (f"{path}?when=now", 422, "validation"),
        (f"/open-data/parking/nowhere-{secrets.token_hex(2)}/history", 404, "unknown-lot"),
    ]:
        await problem(await client.get(where), status, kind)
