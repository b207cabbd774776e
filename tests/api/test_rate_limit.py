"""Rate limits in Redis: per device through the API, per passenger through the limiter."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from faregate.api.app import create_app
from faregate.api.errors import Problem
from faregate.api.problems import PROBLEM_JSON
from faregate.api.rate_limit import RateLimit, RateLimiter
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import LOCAL_REDIS, Device, make_config


async def test_a_device_over_its_limit_gets_429_with_retry_after(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    now = datetime.now(UTC)  # a clock that stands still: the four requests share one window
    config = make_config(
        tmp_path,
        db_url,
        localstripe_server,
        device_rate=RateLimit(3, window_seconds=3600),
        clock=lambda: now,
    )
    async with TestClient(TestServer(create_app(config))) as client:
        device, other = await Device.enrol(client), await Device.enrol(client)
        for _ in range(3):
            assert (await device.get("/device/v1/keyset")).status == 200
        refused = await device.get("/device/v1/keyset")
        assert refused.status == 429
        assert refused.content_type == PROBLEM_JSON
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        assert (await refused.json())["type"] == "urn:faregate:problem:rate-limited"
        assert (await other.get("/device/v1/keyset")).status == 200  # counted per device


async def test_passenger_windows_are_separate_and_reset() -> None:
    redis = Redis.from_url(LOCAL_REDIS)
    now = [datetime(2026, 11, 30, 8, 0, 0, tzinfo=UTC)]
    limiter = RateLimiter(redis, lambda: now[0])
    limit = RateLimit(2, window_seconds=60)
    alice, bob = f"passenger:{secrets.token_hex(4)}", f"passenger:{secrets.token_hex(4)}"
    try:
        await limiter.hit(alice, limit)
        await limiter.hit(alice, limit)
        await limiter.hit(bob, limit)
        now[0] = now[0].replace(second=45)
        with pytest.raises(Problem) as caught:
            await limiter.hit(alice, limit)
        assert caught.value.status == 429
        assert caught.value.headers["Retry-After"] == "15"
        now[0] = now[0].replace(minute=1, second=0)  # the next window
        await limiter.hit(alice, limit)
    finally:
        await redis.aclose()
