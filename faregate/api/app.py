"""The aiohttp application factory: routes, middlewares, and the resources opened around it.

    app = create_app(config)
    web.run_app(app)          # or TestServer(app) in tests

`create_app` wires everything but opens nothing; the cleanup contexts open, in order, the
database (migrated to head), Redis (`REDIS_URL` or a private server), the payment gateway
(the configured Stripe-compatible API, or a private localstripe) and an in-process pricing
worker, and close them in reverse order on shutdown, after in-flight requests have finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Coroutine

import msgspec
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from faregate.api.context import (
    CONFIG,
    DEVICE_GUARD,
    ENGINE,
    FARE_FEED,
    FEED_PLACES,
    GATEWAY,
    METRICS,
    OPENAPI,
    PAYMENTS,
    PRICING_FEED,
    RATE_LIMITER,
    REDIS,
    UOWS,
    ApiConfig,
)
from faregate.api.device_auth import device_guard
from faregate.api.device_examples import DEVICE_EXAMPLES
from faregate.api.errors import Problem
from faregate.api.fare_feed import load_fare_feed_document
from faregate.api.metrics import Metrics, metrics_middleware
from faregate.api.occupancy_relay import occupancy_relay
from faregate.api.problems import problems_middleware
from faregate.api.rate_limit import RateLimiter
from faregate.api.registry import Auth, RouteRegistry
from faregate.api.routes import (
    audit,
    device,
    device_registry,
    finance,
    lots,
    open_data,
    operator,
    operator_devices,
    parking,
    parking_ops,
    passenger,
    quarantine,
    sessions,
    system,
    trip_cases,
    vnpay,
    webhooks,
)
from faregate.api.settlements import approve, prepare, report_dir, settlement_runner
from faregate.api.user_auth import bearer_guards
from faregate.database import open_database
from faregate.outbox_runtime import open_outbox
from faregate.redis_runtime import open_redis
from faregate.web import add_web_routes
from faregate.web.finance_source import SettlementsFinance
from faregate.web.operator_source import ServicesOverview
from faregate.web.parking_pages import ParkingPages
from faregate.web.sign_in_throttle import SIGN_IN_THROTTLE, SignInThrottle
from faregate.web.staff import StaffUsers
from parking.occupancy import Occupancy
from parking.unit_of_work import ParkingUnitOfWorkFactory
from ticketing.device_secrets import SecretBox
from ticketing.fares.feed import load_feed
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.devices import device_key
from ticketing.services.journal import feed_places
from ticketing.services.pricing_worker import PricingLag, run_worker
from ticketing.services.riders import prune_deny_list
from ticketing.unit_of_work import UnitOfWorkFactory

TITLE = "Faregate"
API_VERSION = "1.0.0"
DESCRIPTION = (
    "City transit e-ticketing and cashless parking backend. Errors are "
    "application/problem+json (RFC 9457). Device routes are signed per device "
    "(docs/DEVICE-API.md); user routes take a bearer token from POST /api/v1/sessions "
    "(docs/API.md)."
)


def api_routes() -> RouteRegistry:
    """Every route of the API; add a module's `routes` here to publish it."""
    registry = RouteRegistry()
    for module in (
        system, sessions, passenger, device, device_registry, parking, operator, lots,
        parking_ops, open_data, operator_devices, webhooks, vnpay, finance, quarantine, audit,
        trip_cases,
    ):  # fmt: skip
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
        app[SIGN_IN_THROTTLE] = SignInThrottle(redis, config.clock, config.sign_in_delays)
        uows = app[UOWS]
        app[DEVICE_GUARD] = device_guard(
            redis,
            lambda device_id: device_key(uows, device_id),
            SecretBox(config.device_master_key),
            config.clock,
            skew=config.clock_skew,
        )
        yield


async def _gateway(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with config.gateway.open(config.settings.data_dir) as runtime:
        app[GATEWAY] = runtime.gateway
        app[PAYMENTS] = PaymentsService(
            app[UOWS],
            runtime.gateway,
            gateway_name=runtime.name,
            webhook_secret=runtime.webhook_secret,
            outbox=open_outbox(config.settings),
        )
        yield


async def _fare_feed(app: web.Application) -> AsyncIterator[None]:
    app[FARE_FEED] = await asyncio.to_thread(load_fare_feed_document, app[CONFIG].fare_feed)
    app[PRICING_FEED] = await asyncio.to_thread(load_feed, app[CONFIG].fare_feed)
    app[FEED_PLACES] = feed_places(app[PRICING_FEED])
    yield


LAG_REFRESH_SECONDS = 5.0
log = logging.getLogger(__name__)


async def _pricing_worker(app: web.Application) -> AsyncIterator[None]:
    """One in-process pricing worker (unless `ApiConfig.pricing_worker` is off: the lag is
    then only measured), exporting the pricing lag; stopped before the database closes."""
    uows, lag, stop = app[UOWS], PricingLag(), asyncio.Event()
    app[METRICS].watch_pricing_lag(lag)
    work: Coroutine[object, object, object] = (
        run_worker(uows, app[PRICING_FEED], stop=stop, lag=lag)
        if app[CONFIG].pricing_worker
        else _measure_lag(uows, lag, stop)
    )
    task = asyncio.create_task(work, name="pricing-worker")
    try:
        yield
    finally:
        stop.set()
        await task


DENY_LIST_PRUNE_SECONDS = 600.0


async def _deny_list_pruner(app: web.Application) -> AsyncIterator[None]:
    """Drop expired credentials from the deny list every 10 minutes. Every server
    process runs one: a prune is one transaction, and two racing on the same entries at worst
    record a second REMOVE of one credential, which a delta nets out."""
    uows, stop = app[UOWS], asyncio.Event()

    async def prune() -> None:
        # The first prune comes one interval after start: a server that starts and stops at
        # once (a test, a CLI check) changes nothing, and restarts do not stampede.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=DENY_LIST_PRUNE_SECONDS)
            if stop.is_set():
                return
            try:
                await prune_deny_list(uows)
            except (OSError, SQLAlchemyError) as error:  # the database is down: next round
                log.warning("deny-list prune failed: %s", error)

    task = asyncio.create_task(prune(), name="deny-list-pruner")
    try:
        yield
    finally:
        stop.set()
        await task


async def _measure_lag(uows: UnitOfWorkFactory, lag: PricingLag, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await lag.refresh(uows)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=LAG_REFRESH_SECONDS)


async def _device(request: web.Request, body: bytes) -> str:
    """Authenticate the device, then count the request against its rate limit."""
    app = request.app
    device_id = await app[DEVICE_GUARD](request, body)
    await app[RATE_LIMITER].hit(f"device:{device_id}", app[CONFIG].device_rate)
    return device_id


SERVER_NAME = "Faregate"


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Name no software versions (aiohttp would send `Python/3.x aiohttp/3.y`)."""
    response.headers["Server"] = SERVER_NAME


@functools.cache
def openapi_document() -> bytes:
    """`/openapi.json`: the same for every app of a process (it describes the routes, not the
    configuration), and worth building once: msgspec's schemas of every route take about 0.3 s
    of CPU, which every app a test process created used to pay again."""
    return msgspec.json.encode(
        api_routes().openapi(
            title=TITLE, version=API_VERSION, description=DESCRIPTION, examples=DEVICE_EXAMPLES
        )
    )


def create_app(config: ApiConfig) -> web.Application:
    metrics = Metrics()
    routes = api_routes()
    app = web.Application(
        middlewares=[metrics_middleware(metrics), problems_middleware],
        client_max_size=routes.max_body,
    )
    app.on_response_prepare.append(_server_header)
    app[CONFIG] = config
    app[METRICS] = metrics
    app[OPENAPI] = openapi_document()
    routes.mount(app, {Auth.DEVICE: _device, **bearer_guards()})
    open_data.add_feed_cache(app)
    # The pages: the signed-in passenger page at /, staff sign-in, /operator, and /finance
    # over the services the staff API calls, with the audit log (docs/WEB.md).
    uows = lambda request: request.app[UOWS]  # noqa: E731
    add_web_routes(
        app,
        clock=config.clock,
        staff=StaffUsers(
            uows,
            throttle=lambda request: request.app[SIGN_IN_THROTTLE],
            proxies=config.trusted_proxies,
            password_cost=config.settings.password_cost,
        ),
        operator=ServicesOverview(
            lambda request: ParkingUnitOfWorkFactory(request.app[ENGINE], config.clock),
            lambda request: Occupancy(request.app[REDIS]),
            feed=lambda request: request.app[PRICING_FEED],
            clock=config.clock,
            policy=config.device_policy,
        ),
        finance=SettlementsFinance(
            uows,
            report_dir=lambda day: report_dir(app, day),
            start=lambda request, day, who: prepare(request.app, day, who),
            approve=lambda request, day, who: approve(request.app, day, who),
            refusals=(Problem,),
        ),
        audit=uows,
        parking=ParkingPages(
            uows=lambda request: ParkingUnitOfWorkFactory(request.app[ENGINE], config.clock),
            occupancy=lambda request: Occupancy(request.app[REDIS]),
            outbox=lambda request: open_outbox(config.settings),
        ),
    )
    app.cleanup_ctx.extend(
        [
            _fare_feed,
            _database,
            _redis,
            occupancy_relay,
            _gateway,
            _pricing_worker,
            _deny_list_pruner,
            settlement_runner,
        ]
    )
    return app
