"""Live lot occupancy shared by every server process through Redis pub/sub.

A barrier's upload reaches one `faregate serve` process, while an operator page's event stream
(`faregate.web.occupancy`) is held by any of them. So the process that applies an upload
publishes the lot's new occupancy on a Redis channel (`publish_occupancy`), and every process,
itself included, relays what it hears to its own `OccupancyBroadcaster` (`occupancy_relay`, a
cleanup context). The channel is named after the database, so deployments or test runs sharing
one Redis never see each other's lots.

Best effort, as a live view may be: the sessions in the database are the truth, and a page
that reloads or reconnects starts from them. If Redis refuses the publish, this process's own
pages still get the update; if the subscription drops, the relay subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import URL, make_url

from faregate.api.context import CONFIG, REDIS
from faregate.web.occupancy import OCCUPANCY, LotOccupancy, OccupancyBroadcaster

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "fg:occupancy:"
RESUBSCRIBE_SECONDS = 1.0


@functools.cache  # once per database URL, not on every upload
def channel_for(database_url: str) -> str:
    """The channel of one database's lots: its URL hashed, without the password or the
    driver (processes may reach one database with different ones)."""
    url = make_url(database_url)
    named = URL.create(
        url.get_backend_name(), url.username, None, url.host, url.port, url.database, url.query
    ).render_as_string()
    return CHANNEL_PREFIX + hashlib.sha256(named.encode()).hexdigest()[:16]


def _channel(app: web.Application) -> str:
    return channel_for(app[CONFIG].settings.effective_database_url)


async def publish_occupancy(app: web.Application, occupancy: LotOccupancy) -> None:
    """Tell every process's open operator pages a lot's new occupancy (no-op when the pages
    are not mounted)."""
    broadcaster = app.get(OCCUPANCY)
    if broadcaster is None:
        return
    try:
        await app[REDIS].publish(_channel(app), json.dumps(occupancy.to_json()))
    except RedisError as error:
        log.warning("occupancy of lot %s not shared through Redis: %s", occupancy.lot_id, error)
        broadcaster.publish(occupancy)


async def occupancy_relay(app: web.Application) -> AsyncIterator[None]:
    """Relay the database's occupancy channel to this process's broadcaster while the app
    runs (after Redis is open, before it closes)."""
    broadcaster = app.get(OCCUPANCY)
    if broadcaster is None:
        yield
        return
    subscribed = asyncio.Event()
    task = asyncio.create_task(
        _relay(app[REDIS], _channel(app), broadcaster, subscribed), name="occupancy-relay"
    )
    # Start serving once subscribed (or after a moment without Redis: the relay keeps trying).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(subscribed.wait(), timeout=5)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _relay(
    redis: Redis, channel: str, broadcaster: OccupancyBroadcaster, subscribed: asyncio.Event
) -> None:
    while True:
        try:
            async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(channel)
                subscribed.set()
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        _deliver(broadcaster, message["data"])
        except RedisError as error:
            log.warning("occupancy relay lost Redis, subscribing again: %s", error)
            await asyncio.sleep(RESUBSCRIBE_SECONDS)


def _deliver(broadcaster: OccupancyBroadcaster, data: bytes | str) -> None:
    try:
        occupancy = LotOccupancy.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError) as error:  # not ours, or from another version
        log.warning("ignored an occupancy message that does not parse: %s", error)
        return
    broadcaster.publish(occupancy)
