"""Live lot occupancy for the operator page: an in-process broadcaster and its server-sent events.

Whoever records a parking entry or exit (the device API, in the API round) publishes the lot's
new occupancy; every open operator page holds an `EventSource` on `/operator/occupancy/events`
and redraws that lot's row. A new subscriber first gets the latest figure of every lot, so a
page that reconnects after a dropped connection is current again without a reload.

The broadcaster fans out within one process; with several server processes the API relays
every process's updates to every broadcaster through Redis (`faregate.api.occupancy_relay`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from parking.services import LotStatus
from qr.timeutil import isoformat_z, parse_instant

EVENT = "occupancy"
KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
QUEUE_SIZE = 256
RECONNECT_MS = 2000  # how soon a page's EventSource reconnects after the stream ends


@dataclass(frozen=True, slots=True, kw_only=True)
class LotOccupancy:
    """How full one lot is at `updated_at` (vehicles inside against spaces). `free` is what
    parking says an ordinary entry may still take (reserved spaces left out, as the barrier
    counts them): the page shows it, it does not work it out."""

    lot_id: str
    name: str
    capacity: int
    occupied: int
    free: int
    updated_at: datetime

    @classmethod
    def of(cls, lot: LotStatus) -> LotOccupancy:
        return cls(
            lot_id=lot.lot_id,
            name=lot.name,
            capacity=lot.capacity,
            occupied=lot.occupied,
            free=lot.free,
            updated_at=lot.updated_at,
        )

    @property
    def percent(self) -> int:
        """Occupancy in whole percent, rounded half up; 0 and 100 only for an empty or a full
        lot, so one free space never reads as full and one vehicle never as empty."""
        if self.occupied <= 0:
            return 0
        if self.occupied >= self.capacity:
            return 100
        rounded = (200 * self.occupied + self.capacity) // (2 * self.capacity)
        return min(max(rounded, 1), 99)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> LotOccupancy:
        """What `to_json` wrote (the percentage is computed again, not read)."""
        return cls(
            lot_id=str(document["lot_id"]),
            name=str(document["name"]),
            capacity=int(document["capacity"]),
            occupied=int(document["occupied"]),
            free=int(document["free"]),
            updated_at=parse_instant(str(document["updated_at"]), "updated_at"),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "lot_id": self.lot_id,
            "name": self.name,
            "capacity": self.capacity,
            "occupied": self.occupied,
            "free": self.free,
            "percent": self.percent,
            "updated_at": isoformat_z(self.updated_at),
        }


class OccupancyBroadcaster:
    """Fans each lot's latest occupancy out to every subscriber (one queue each).

    A subscriber too slow to keep up with QUEUE_SIZE updates is dropped rather than allowed to
    hold memory; its page's EventSource reconnects and starts again from the snapshot.
    """

    def __init__(self) -> None:
        self._latest: dict[str, LotOccupancy] = {}
        self._queues: set[asyncio.Queue[LotOccupancy | None]] = set()

    def snapshot(self) -> list[LotOccupancy]:
        return list(self._latest.values())

    def publish(self, occupancy: LotOccupancy) -> None:
        self._latest[occupancy.lot_id] = occupancy
        for queue in list(self._queues):
            try:
                queue.put_nowait(occupancy)
            except asyncio.QueueFull:
                self._end(queue)

    def close(self) -> None:
        """End every subscription (at shutdown), so open event streams finish."""
        for queue in list(self._queues):
            self._end(queue)

    def _end(self, queue: asyncio.Queue[LotOccupancy | None]) -> None:
        # What is queued is dropped: the stream ends and the page reconnects to a fresh snapshot.
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)
        self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        """How many streams are open (tests wait on it)."""
        return len(self._queues)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[LotOccupancy | None]]:
        queue: asyncio.Queue[LotOccupancy | None] = asyncio.Queue(QUEUE_SIZE)
        for occupancy in self._latest.values():
            queue.put_nowait(occupancy)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)


OCCUPANCY = web.AppKey("occupancy_broadcaster", OccupancyBroadcaster)


def sse_message(event: str, data: dict[str, object]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def occupancy_events(request: web.Request) -> web.StreamResponse:
    """`text/event-stream` of `occupancy` events: the snapshot first, then every update."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx would otherwise hold events back
        }
    )
    await response.prepare(request)
    try:
        await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
        async with request.app[OCCUPANCY].subscribe() as queue:
            while True:
                try:
                    occupancy = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if occupancy is None:
                    break
                await response.write(sse_message(EVENT, occupancy.to_json()))
    except ConnectionResetError:  # aiohttp's ClientConnectionResetError is one
        pass  # the page was closed or navigated away: normal, nothing to log
    return response
