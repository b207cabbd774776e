"""Parking test fixtures: a real Redis (127.0.0.1:6379 or FAREGATE_TEST_REDIS_URL), own keys."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.helpers.redis import LOCAL_REDIS


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(LOCAL_REDIS)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def key_prefix(redis_client: Redis) -> AsyncIterator[str]:
    """A prefix no other test uses; every key under it is deleted afterwards."""
    prefix = f"faregate-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis_client.delete(*keys)
