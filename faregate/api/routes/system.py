"""Operations routes: health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web
from sqlalchemy import text

from faregate.api.context import ENGINE, METRICS, OPENAPI, REDIS
from faregate.api.errors import Problem
from faregate.api.metrics import METRICS_CONTENT_TYPE
from faregate.api.registry import Call, RouteRegistry

routes = RouteRegistry()
PROBE_TIMEOUT = 2.0


class Health(msgspec.Struct, kw_only=True):
    status: str
    database: str
    redis: str


async def _database_ok(call: Call) -> bool:
    async with call.app[ENGINE].connect() as connection:
        await connection.execute(text("SELECT 1"))
    return True


async def _redis_ok(call: Call) -> bool:
    return bool(await call.app[REDIS].ping())


async def _probe(check: asyncio.Future[bool] | asyncio.Task[bool]) -> str:
    try:
        return "ok" if await asyncio.wait_for(check, PROBE_TIMEOUT) else "failing"
    except TimeoutError:
        return "timed out"
    except Exception as error:  # any failure of the backing service is "not healthy"
        return f"unreachable ({type(error).__name__})"


@routes.route(
    "GET", "/healthz", summary="Database and Redis reachable", tag="operations",
    response=Health, errors=[503],
)  # fmt: skip
async def healthz(call: Call) -> Health:
    database, redis = await asyncio.gather(
        _probe(asyncio.ensure_future(_database_ok(call))),
        _probe(asyncio.ensure_future(_redis_ok(call))),
    )
    if database != "ok" or redis != "ok":
        raise Problem(
            503, "unhealthy", "Service Unavailable", f"database: {database}; redis: {redis}"
        )
    return Health(status="ok", database=database, redis=redis)


@routes.route(
    "GET", "/metrics", summary="Prometheus metrics", tag="operations",
    response_content_type=METRICS_CONTENT_TYPE,
)  # fmt: skip
async def metrics(call: Call) -> web.StreamResponse:
    response = web.Response(body=call.app[METRICS].render())
    response.headers["Content-Type"] = METRICS_CONTENT_TYPE
    return response


@routes.route(
    "GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", tag="operations",
    response_content_type="application/json",
)  # fmt: skip
async def openapi(call: Call) -> web.StreamResponse:
    return web.Response(body=call.app[OPENAPI], content_type="application/json")
