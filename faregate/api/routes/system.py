"""Operations routes: health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio
import logging

import msgspec
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from faregate.api.context import (
    CONFIG,
    ENGINE,
    FARE_FEED,
    METRICS,
    OPENAPI,
    PRICING_FEED,
    REDIS,
    UOWS,
)
from faregate.api.errors import Problem
from faregate.api.metrics import METRICS_CONTENT_TYPE
from faregate.api.registry import Call, RouteRegistry
from qr.errors import QRError
from qr.keys import load_keys
from ticketing.services.device_health import health_counts

routes = RouteRegistry()
log = logging.getLogger(__name__)
PROBE_TIMEOUT = 2.0


class Health(msgspec.Struct, kw_only=True):
    """Each dependency's state: "ok", or why not (then the answer is a 503 problem)."""

    status: str
    database: str
    redis: str
    keys: str
    fare_feed: str


# Each check answers "ok" or what is wrong; a check that raises is "unreachable".
async def _database_ok(call: Call) -> str:
    async with call.app[ENGINE].connect() as connection:
        await connection.execute(text("SELECT 1"))
    return "ok"


async def _redis_ok(call: Call) -> str:
    return "ok" if await call.app[REDIS].ping() else "failing"


async def _keys_ok(call: Call) -> str:
    """Credentials can be issued: the key directory reads, with keys of both kinds in force."""
    config = call.app[CONFIG]
    try:
        material = await asyncio.to_thread(load_keys, config.keys_dir)
        now = config.clock()
        material.keyset.newest_issuer(now)
        material.keyset.newest_liveness(now)
    except (OSError, QRError):
        # Not the reason: it names files of the server, and this route answers anyone.
        return "missing (no issuer and liveness keys in force)"
    return "ok"


async def _fare_feed_ok(call: Call) -> str:
    return "ok" if FARE_FEED in call.app and PRICING_FEED in call.app else "missing"


async def _probe(check: asyncio.Future[str] | asyncio.Task[str]) -> str:
    try:
        return await asyncio.wait_for(check, PROBE_TIMEOUT)
    except TimeoutError:
        return "timed out"
    except Exception as error:  # any failure of the backing service is "not healthy"
        return f"unreachable ({type(error).__name__})"


@routes.route(
    "GET", "/healthz", summary="Database, Redis, keys and fare feed all there",
    tag="operations", response=Health, errors=[503],
)  # fmt: skip
async def healthz(call: Call) -> Health:
    checks = (_database_ok, _redis_ok, _keys_ok, _fare_feed_ok)
    database, redis, keys, fare_feed = await asyncio.gather(
        *(_probe(asyncio.ensure_future(check(call))) for check in checks)
    )
    health = Health(status="ok", database=database, redis=redis, keys=keys, fare_feed=fare_feed)
    if any(state != "ok" for state in (database, redis, keys, fare_feed)):
        detail = f"database: {database}; redis: {redis}; keys: {keys}; fare feed: {fare_feed}"
        raise Problem(503, "unhealthy", "Service Unavailable", detail)
    return health


@routes.route(
    "GET", "/metrics", summary="Prometheus metrics", tag="operations",
    response_content_type=METRICS_CONTENT_TYPE,
)  # fmt: skip
async def metrics(call: Call) -> web.StreamResponse:
    app = call.app
    try:
        counts = await asyncio.wait_for(
            health_counts(app[UOWS], app[CONFIG].device_policy), timeout=PROBE_TIMEOUT * 5
        )
    except (OSError, SQLAlchemyError, TimeoutError) as error:
        # The other metrics still say what this process knows; the device gauges keep the
        # last scrape's values (health says whether the database is down).
        log.warning("device health for /metrics unavailable: %s", error)
    else:
        app[METRICS].set_device_health(
            {state.value: n for state, n in counts.states.items()},
            {kind.value: n for kind, n in counts.alarms.items()},
        )
    response = web.Response(body=app[METRICS].render())
    response.headers["Content-Type"] = METRICS_CONTENT_TYPE
    return response


@routes.route(
    "GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", tag="operations",
    response_content_type="application/json",
    response_schema={"type": "object", "required": ["openapi", "info", "paths"]},
)  # fmt: skip
async def openapi(call: Call) -> web.StreamResponse:
    return web.Response(body=call.app[OPENAPI], content_type="application/json")
