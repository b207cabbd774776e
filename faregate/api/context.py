"""What the app holds: its configuration and the typed keys of the resources it opens.

`ApiConfig` is built by the caller (`faregate serve`, a test); the cleanup contexts in
`faregate.api.app` open the database, Redis and the gateway from it and store them under the
keys below, so handlers reach them as `request.app[REDIS]`, typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from faregate.api.device_auth import DEFAULT_SKEW
from faregate.api.fare_feed import FareFeedDocument
from faregate.api.metrics import Metrics
from faregate.api.rate_limit import RateLimit, RateLimiter
from faregate.api.registry import DeviceGuard
from faregate.config import Settings
from faregate.gateway_runtime import GatewayConfig, PrivateStripeConfig
from faregate.web.clients import NO_PROXIES, TrustedProxies
from faregate.web.sign_in_throttle import SignInDelays
from gateways.protocol import Gateway
from gateways.vnpay import VNPayConfig
from qr.timeutil import Clock, utc_now
from ticketing.devices import DevicePolicy
from ticketing.fares.feed import FareFeed
from ticketing.journal import FeedPlaces
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.devices import DEFAULT_POLICY
from ticketing.unit_of_work import UnitOfWorkFactory

DEFAULT_DEVICE_RATE = RateLimit(requests=1200, window_seconds=60)
DEFAULT_PASSENGER_RATE = RateLimit(requests=120, window_seconds=60)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiConfig:
    """Everything the server needs besides what `Settings` says (data dir, database, Redis).

    `gateway`: the payment gateway (`faregate.gateway_runtime`); by default a private
    localstripe in the data directory, as Redis without a URL.
    `sign_in_delays`: how failed sign-ins of a username from one client are slowed down;
    `trusted_proxies`: the reverse proxies in front (their client address and scheme are
    believed). `pricing_worker`: run one pricing worker in the server process (`faregate serve
    --no-worker` leaves pricing to separate `faregate worker` processes). `settlement_runner`:
    run the settlements finance asks for in the server process (off: `faregate worker
    --settlements` runs them). `device_policy`:
    what every device's configuration tells it to decide offline with.
    """

    settings: Settings
    device_master_key: bytes
    keys_dir: Path
    fare_feed: Path
    gateway: GatewayConfig = field(default_factory=PrivateStripeConfig)
    device_rate: RateLimit = DEFAULT_DEVICE_RATE
    passenger_rate: RateLimit = DEFAULT_PASSENGER_RATE
    sign_in_delays: SignInDelays = field(default_factory=SignInDelays)
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (faregate.web.clients).
    trusted_proxies: TrustedProxies = NO_PROXIES
    clock_skew: timedelta = DEFAULT_SKEW
    clock: Clock = field(default=utc_now)
    pricing_worker: bool = True
    settlement_runner: bool = True
    device_policy: DevicePolicy = DEFAULT_POLICY
    # VNPay top-ups (a terminal code and hash secret); None: not offered (503).
    vnpay: VNPayConfig | None = None


CONFIG = web.AppKey("config", ApiConfig)
METRICS = web.AppKey("metrics", Metrics)
OPENAPI = web.AppKey("openapi", bytes)
ENGINE = web.AppKey("engine", AsyncEngine)
UOWS = web.AppKey("uows", UnitOfWorkFactory)
REDIS = web.AppKey("redis", Redis)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
DEVICE_GUARD: web.AppKey[DeviceGuard] = web.AppKey("device_guard")
GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
PAYMENTS = web.AppKey("payments", PaymentsService)
FARE_FEED = web.AppKey("fare_feed", FareFeedDocument)
PRICING_FEED = web.AppKey("pricing_feed", FareFeed)  # the same feed, loaded for pricing
FEED_PLACES = web.AppKey("feed_places", FeedPlaces)  # its stops and routes, for tap checks
