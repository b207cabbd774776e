"""Growing delays after failed sign-ins, per username and client together (API and page).

A hard lockout per username would let anyone lock a user (finance included) out with a few
wrong passwords; a limit per client alone lets one client try every username. So failures are
counted per (username, client): the first `free` are free, then each further failure makes
that pair wait `base`, 2 `base`, 4 `base`... up to `longest` before its next attempt. The same
user from another client (the real one, at their own desk) is not held back; a success clears
the pair. Counts live in Redis (shared by every server process) and are forgotten a day after
the last failure.

    wait = await throttle.wait(username, client)    # seconds until an attempt may be made
    ... sign in ...
    await throttle.failed(username, client)         # or throttle.succeeded(...)

The username is hashed into the key: it is whatever a client sent (a NUL, 1 KiB of it).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from redis.asyncio import Redis

from faregate.errors import SignInDelayed
from ticketing.errors import BadCredentials, InvalidUser
from ticketing.services.users import DEFAULT_COST, ScryptCost, SignedIn, sign_in
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import login_name

FORGET_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class SignInDelays:
    free: int = 5  # failures before any delay
    base: float = 1.0  # seconds, the first delay, doubled by each failure after it
    longest: float = 900.0

    def after(self, failures: int) -> float:
        """The delay after `failures` failures in a row."""
        if failures <= self.free:
            return 0.0
        doublings: int = min(failures - self.free - 1, 32)
        return min(self.base * float(2**doublings), self.longest)


class SignInThrottle:
    def __init__(
        self,
        redis: Redis,
        clock: Callable[[], datetime],
        delays: SignInDelays = SignInDelays(),
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._delays = delays

    @staticmethod
    def _key(username: str, client: str) -> str:
        who = hashlib.sha256(f"{username}\x00{client}".encode("utf-8", "replace")).hexdigest()
        return f"fg:sign-in:{who[:32]}"

    async def wait(self, username: str, client: str) -> int:
        """Whole seconds before this pair may try again; 0: now."""
        until = await self._redis.hget(self._key(username, client), "until")
        if until is None:
            return 0
        left = float(until) - self._clock().timestamp()
        return max(0, math.ceil(left))

    async def failed(self, username: str, client: str) -> None:
        key = self._key(username, client)
        failures = int(await self._redis.hincrby(key, "failures", 1))
        delay = self._delays.after(failures)
        async with self._redis.pipeline(transaction=True) as pipe:
            if delay:
                pipe.hset(key, "until", str(self._clock().timestamp() + delay))
            pipe.expire(key, FORGET_SECONDS)
            await pipe.execute()

    async def succeeded(self, username: str, client: str) -> None:
        await self._redis.delete(self._key(username, client))


SIGN_IN_THROTTLE = web.AppKey("sign_in_throttle", SignInThrottle)


async def throttled_sign_in(
    throttle: SignInThrottle | None,
    uows: UnitOfWorkFactory,
    username: str,
    password: str,
    client: str,
    *,
    cost: ScryptCost = DEFAULT_COST,
) -> SignedIn:
    """`ticketing.services.users.sign_in` (`cost`: the server's, for unknown users), unless
    this username from this client must wait (SignInDelayed, with the seconds to wait); its
    failures and success counted. No throttle (the pages alone, in tests): a plain sign-in."""
    if throttle is None:
        return await sign_in(uows, username, password, cost=cost)
    try:
        # One count per rider however their phone number is written (0912..., +84 912...).
        counted = login_name(username)
    except InvalidUser:
        counted = username
    wait = await throttle.wait(counted, client)
    if wait:
        raise SignInDelayed(
            f"too many failed sign-ins of this user from here; try again in {wait} s",
            retry_after=wait,
        )
    try:
        signed_in = await sign_in(uows, username, password, cost=cost)
    except BadCredentials:
        await throttle.failed(counted, client)
        raise
    await throttle.succeeded(counted, client)
    return signed_in
