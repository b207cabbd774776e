"""Waiting in tests for a condition that has no event to wait on: poll it until a deadline.

Tests never sleep a guessed time and hope (a fixed sleep passes or fails by the machine's
load). Where the code under test offers an event, a future or a queue, wait on that. Where it
does not (a row another process writes, a server starting or stopping, a lock another session
waits for), poll the condition with these helpers: they return as soon as it holds, and fail
with `what` only when the deadline, generous on purpose, passes.

This module holds the tests' only sleeps: the pause between two looks at a condition.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 60.0  # seconds: a bound for a hung wait, not a guess at how long it takes
INTERVAL = 0.05


async def until(
    check: Callable[[], Awaitable[T]],
    what: str,
    *,
    within: float = DEADLINE,
    interval: float = INTERVAL,
) -> T:
    """`await check()` until it returns something true, and return that; AssertionError with
    `what` if it has not within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within:g} s waiting until {what}")
        await asyncio.sleep(interval)


def until_sync(
    check: Callable[[], T],
    what: str,
    *,
    within: float = DEADLINE,
    interval: float = INTERVAL,
) -> T:
    """`until` for code outside an event loop (subprocesses, servers in threads)."""
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within:g} s waiting until {what}")
        time.sleep(interval)
