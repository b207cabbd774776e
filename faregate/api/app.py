"""The aiohttp application factory: routes, middlewares, and the resources opened around it.

    app = create_app(config)
    web.run_app(app)          # or TestServer(app) in tests

`create_app` wires everything but opens nothing; the cleanup contexts open, in order, the
database (migrated to head), Redis (`REDIS_URL` or a private server) and the payment gateway
(the configured Stripe-compatible API, or a private localstripe), and close them in reverse
order on shutdown, after in-flight requests have finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import msgspec
from aiohttp import web

from faregate.api.context import (
    CONFIG,
    DEVICE_GUARD,
    ENGINE,
    FARE_FEED,
    GATEWAY,
    METRICS,
    OPENAPI,
    PAYMENTS,
    RATE_LIMITER,
    REDIS,
    UOWS,
    ApiConfig,
)
from faregate.api.device_auth import device_guard
from faregate.api.fare_feed import load_fare_feed_document
from faregate.api.metrics import Metrics, metrics_middleware
from faregate.api.problems import problems_middleware
from faregate.api.rate_limit import RateLimiter
from faregate.api.registry import Auth, RouteRegistry
from faregate.api.routes import device, parking, system, webhooks
from faregate.database import open_database
from faregate.redis_runtime import open_redis
from gateways.localstripe_server import localstripe
from gateways.stripe_gateway import StripeGateway
from ticketing.payments.service import PaymentsService
from ticketing.unit_of_work import UnitOfWorkFactory

TITLE = "Faregate"
API_VERSION = "1.0.0"
DESCRIPTION = (
    "City transit e-ticketing and cashless parking backend. Errors are "
    "application/problem+json (RFC 9457). Device routes are signed per device: "
    "see docs/DEVICE-API.md."
)


def api_routes() -> RouteRegistry:
    """Every route of the API; add a module's `routes` here to publish it."""
    registry = RouteRegistry()
    for module in (system, device, parking, webhooks):
        registry.extend(module.routes)
    return registry


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    engine = await open_database(config.settings)
    app[ENGINE] = engine
    app[UOWS] = UnitOfWorkFactory(engine, config.clock)
    try:
        yield
    finally:
        await engine.dispose()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with open_redis(config.settings) as redis:
        app[REDIS] = redis
        app[RATE_LIMITER] = RateLimiter(redis, config.clock)
        app[DEVICE_GUARD] = device_guard(
            redis, config.device_master_key, config.clock, skew=config.clock_skew
        )
        yield


async def _gateway(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with contextlib.AsyncExitStack() as stack:
        if config.stripe is None:
            server = await stack.enter_async_context(
                localstripe(config.settings.data_dir / "localstripe")
            )
            # Nothing sends webhooks to a private localstripe: a random secret refuses all.
            api_key, api_base, secret = server.api_key, server.base_url, secrets.token_hex(16)
        else:
            stripe = config.stripe
            api_key, api_base, secret = stripe.api_key, stripe.api_base, stripe.webhook_secret
        gateway = await stack.enter_async_context(StripeGateway(api_key, api_base))
        app[GATEWAY] = gateway
        app[PAYMENTS] = PaymentsService(app[UOWS], gateway, webhook_secret=secret)
        yield


async def _fare_feed(app: web.Application) -> AsyncIterator[None]:
    app[FARE_FEED] = await asyncio.to_thread(load_fare_feed_document, app[CONFIG].fare_feed)
    yield


async def _device(request: web.Request, body: bytes) -> str:
    """Authenticate the device, then count the request against its rate limit."""
    app = request.app
    device_id = await app[DEVICE_GUARD](request, body)
    await app[RATE_LIMITER].hit(f"device:{device_id}", app[CONFIG].device_rate)
    return device_id


def create_app(config: ApiConfig) -> web.Application:
    metrics = Metrics()
    routes = api_routes()
    app = web.Application(
        middlewares=[metrics_middleware(metrics), problems_middleware],
        client_max_size=routes.max_body,
    )
    app[CONFIG] = config
    app[METRICS] = metrics
    app[OPENAPI] = msgspec.json.encode(
        routes.openapi(title=TITLE, version=API_VERSION, description=DESCRIPTION)
    )
    routes.mount(app, {Auth.DEVICE: _device})
    app.cleanup_ctx.extend([_fare_feed, _database, _redis, _gateway])
    return app
