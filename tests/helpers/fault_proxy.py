"""A fault-injecting HTTP proxy between a gateway client and localstripe, for tests.

Requests pass through untouched unless a fault is queued with `inject`. Each queued fault
hits the next matching request (by default: any POST, i.e. anything that creates or changes
something at the gateway):

- DROP_RESPONSE: forward the request, let the gateway act, then cut the connection unanswered;
- ERROR_500: answer 500 without forwarding (the gateway never sees the request);
- DELAY: forward, then hold the answer until the test lets held traffic go (`drain`, or the
  proxy closing): the client times out, whatever its timeout;
- GARBLED: forward, then answer 200 with a body that is not JSON;
- PASS: forward untouched (to let the first matching requests through, then fault a later one).

and one fault on the way in, `RequestFault.DELAY`: hold the request itself in the network until
`drain`, then forward it although the client has long given up. A timed-out client may retry
while its first request has yet to reach the gateway, which then acts on both.

Nothing here waits a set time: what is held stays held until the test says, so the order of
events is the test's, not the machine load's. The client's timeout (`CLIENT_TIMEOUT` for
gateways pointed at the proxy) is the only clock, and it is short only where faults are.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

# The timeout of gateway clients pointed at the proxy in fault tests: each DELAY fault costs it
# once. Gateways that meet no faults keep the default timeout.
CLIENT_TIMEOUT = 1.0

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class Fault(enum.Enum):
    DROP_RESPONSE = "drop_response"
    ERROR_500 = "error_500"
    DELAY = "delay"
    GARBLED = "garbled"
    PASS = "pass"


class RequestFault(enum.Enum):
    """Faults on the way to the gateway.

    Kept apart from `Fault` because a lookup-then-create retry cannot survive them without the
    gateway honouring idempotency keys: tests that sample every `Fault` expect charge-once.
    """

    DELAY = "delay_request"


@dataclass(frozen=True, slots=True)
class ProxiedRequest:
    method: str
    path: str
    fault: Fault | RequestFault | None
    forwarded: bool


class FaultProxy:
    """Use as `async with FaultProxy(upstream) as proxy:`; point the client at `proxy.url`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.log: list[ProxiedRequest] = []
        self._queued: deque[tuple[Fault | RequestFault, frozenset[str]]] = deque()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._held: set[asyncio.Task[tuple[int, bytes, str]]] = set()
        self._release = asyncio.Event()
        self.url = ""

    def inject(
        self, faults: Iterable[Fault | RequestFault], *, methods: Iterable[str] = ("POST",)
    ) -> None:
        """Queue faults for the next requests whose method is in `methods`, in order."""
        allowed = frozenset(m.upper() for m in methods)
        self._queued.extend((fault, allowed) for fault in faults)

    @property
    def pending_faults(self) -> int:
        return len(self._queued)

    def clear(self) -> None:
        self._queued.clear()

    async def __aenter__(self) -> FaultProxy:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def drain(self) -> None:
        """Let held requests and answers go; return once every held request has reached the
        gateway and been answered. Faults injected later hold again."""
        release, self._release = self._release, asyncio.Event()
        release.set()
        while self._held:
            await asyncio.gather(*self._held, return_exceptions=True)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.drain()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _take_fault(self, method: str) -> Fault | RequestFault | None:
        if self._queued and method in self._queued[0][1]:
            return self._queued.popleft()[0]
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._take_fault(request.method)
        self.log.append(
            ProxiedRequest(request.method, request.path, fault, fault is not Fault.ERROR_500)
        )
        if fault is Fault.ERROR_500:
            return web.Response(status=500, text="injected failure")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        forward = self._forward(request.method, str(request.rel_url), headers, await request.read())
        if fault is RequestFault.DELAY:
            # A task of its own, so the request still arrives after the client has hung up.
            held = asyncio.ensure_future(self._when_released(self._release, forward))
            self._held.add(held)
            held.add_done_callback(self._held.discard)
            status, body, content_type = await asyncio.shield(held)
        else:
            status, body, content_type = await forward
        if fault is Fault.DROP_RESPONSE:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=204)
        if fault is Fault.DELAY:
            await self._release.wait()
        if fault is Fault.GARBLED:
            return web.Response(status=200, body=b"<html>not json", content_type="text/html")
        response = web.Response(status=status, body=body)
        response.headers["Content-Type"] = content_type
        return response

    @staticmethod
    async def _when_released(
        release: asyncio.Event, forward: Coroutine[None, None, tuple[int, bytes, str]]
    ) -> tuple[int, bytes, str]:
        await release.wait()
        return await forward

    async def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, str]:
        assert self._session is not None
        async with self._session.request(
            method, self.upstream + path, headers=headers, data=body
        ) as upstream:
            return (
                upstream.status,
                await upstream.read(),
                upstream.headers.get("Content-Type", "application/json"),
            )
