"""Live occupancy: the broadcaster and its server-sent event stream (no browser)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.problems import problems_middleware
from faregate.web import LotOccupancy, OccupancyBroadcaster, add_web_routes
from faregate.web.occupancy import QUEUE_SIZE
from tests.helpers.waiting import until

AT = datetime(2026, 11, 29, 10, 5, 30, tzinfo=UTC)


def lot(occupied: int, lot_id: str = "HK-01", at: datetime = AT) -> LotOccupancy:
    return LotOccupancy(
        lot_id=lot_id, name="Hàng Đào", capacity=120, occupied=occupied,
        free=max(120 - occupied, 0), updated_at=at,
    )  # fmt: skip


async def test_a_stream_starts_with_the_latest_figure_of_each_lot() -> None:
    broadcaster = OccupancyBroadcaster()
    broadcaster.publish(lot(10))
    broadcaster.publish(lot(11))
    broadcaster.publish(lot(5, lot_id="HK-02"))
    async with broadcaster.subscribe() as queue:
        first = [queue.get_nowait(), queue.get_nowait()]
        assert queue.empty()
        broadcaster.publish(lot(12))
        later = queue.get_nowait()
    assert [(o.lot_id, o.occupied) for o in first] == [("HK-01", 11), ("HK-02", 5)]
    assert later.occupied == 12


async def test_a_subscriber_that_falls_behind_is_ended_not_left_stale() -> None:
    broadcaster = OccupancyBroadcaster()
    async with broadcaster.subscribe() as queue:
        for n in range(QUEUE_SIZE + 1):
            broadcaster.publish(lot(n))
        assert queue.get_nowait() is None  # end of stream: the page reconnects to a snapshot
        broadcaster.publish(lot(1))
        assert queue.empty()


async def test_the_event_stream_speaks_server_sent_events() -> None:
    broadcaster = OccupancyBroadcaster()
    broadcaster.publish(lot(40))

    async def overview(request: web.Request) -> Any:
        raise AssertionError("the stream does not need the overview")

    app = web.Application()
    add_web_routes(app, operator=overview, occupancy=broadcaster)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/operator/occupancy/events")
        assert response.headers["Content-Type"] == "text/event-stream"
        assert await response.content.readuntil(b"\n\n") == b"retry: 2000\n\n"
        snapshot = await response.content.readuntil(b"\n\n")
        broadcaster.publish(lot(41, at=AT + timedelta(seconds=3)))
        update = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
        broadcaster.close()
        assert await asyncio.wait_for(response.content.read(), 5) == b""
    for message, occupied in ((snapshot, 40), (update, 41)):
        event, data = message.decode().strip().split("\n")
        assert event == "event: occupancy"
        assert json.loads(data.removeprefix("data: "))["occupied"] == occupied
    assert json.loads(update.decode().split("data: ")[1]) == {
        "lot_id": "HK-01",
        "name": "Hàng Đào",
        "capacity": 120,
        "occupied": 41,
        "free": 79,
        "percent": 34,
        "updated_at": "2026-11-29T10:05:33Z",
    }


async def test_closing_the_page_ends_its_stream_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """Every closed operator page left a ClientConnectionResetError traceback in the log: the
    stream wrote to a connection the browser had closed. A client going away is normal."""
    broadcaster = OccupancyBroadcaster()
    broadcaster.publish(lot(40))
    app = web.Application(middlewares=[problems_middleware])
    add_web_routes(app, operator=_no_overview, occupancy=broadcaster)
    caplog.set_level(logging.DEBUG)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/operator/occupancy/events")
        await response.content.readuntil(b"\n\n")
        await response.content.readuntil(b"\n\n")  # the snapshot: the stream is subscribed
        assert broadcaster.subscribers == 1
        response.close()  # the page is closed

        async def stream_ended() -> bool:
            broadcaster.publish(lot(41))  # the next write finds the connection gone
            return broadcaster.subscribers == 0

        await until(stream_ended, "the stream's handler has ended")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == []


async def _no_overview(request: web.Request) -> Any:
    raise AssertionError("the stream does not need the overview")


def test_occupancy_reads_full_or_empty_only_when_it_is() -> None:
    assert [lot(n).percent for n in (0, 1, 60, 87, 119, 120, 125)] == [0, 1, 50, 73, 99, 100, 100]
