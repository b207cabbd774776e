"""A fault-injecting HTTP proxy between a gateway client and localstripe: for the tests, which
queue each fault where they want it, and for the demo, which runs it as a process of its own
(`python -m simulators.fault_proxy`) that strikes a share of the payment requests.

Requests pass through untouched unless a fault is queued with `inject` or drawn by the rates.
Each queued fault hits the next matching request (by default: any POST, i.e. anything that
creates or changes something at the gateway):

- DROP_RESPONSE: forward the request, let the gateway act, then cut the connection unanswered;
- ERROR_500: answer 500 without forwarding (the gateway never sees the request);
- DELAY: forward, then hold the answer until the test lets held traffic go (`drain`, or the
  proxy closing): the client times out, whatever its timeout;
- GARBLED: forward, then answer 200 with a body that is not JSON;
- PASS: forward untouched (to let the first matching requests through, then fault a later one);
- `CardFault.DECLINED`: answer 402 with Stripe's `card_error` (`card_declined`) without
  forwarding, as for a card its bank refuses.

and one fault on the way in, `RequestFault.DELAY`: hold the request itself in the network until
`drain`, then forward it although the client has long given up. A timed-out client may retry
while its first request has yet to reach the gateway, which then acts on both.

Nothing here waits a set time for the tests: what is held stays held until the test says, so
the order of events is the test's, not the machine load's. A client in the same process names
its requests (`TAG_HEADER`) and learns from `watching` when one of them is held, and gives up on
that one then: a test's timeouts strike the requests it faults and no other, where a short
client timeout shared by every request of a fault test timed out, on a loaded machine,
requests no fault touched.

Rates (`FaultRates`, switched at run time: the `rates` attribute, or `PUT /_faults` on a
running proxy) strike payment requests (`POST /v1/payment_intents`) by their idempotency key,
so the same seed strikes the same payments whatever the order they arrive in: a declined
card stays declined on every retry; a 500 or a timeout strikes only a key's first attempt, so
the payments layer's retry gets through. A timeout drawn by the rates holds the answer `hold`
seconds at most (past the gateway client's timeout), then answers. `injected` counts every
fault struck, by its value; `GET /_faults` answers the rates and the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import hashlib
import json
import math
import signal
import subprocess
import sys
from collections import Counter, deque
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields

import aiohttp
import httpx
from aiohttp import web

from simulators.errors import FaultSpecError
from simulators.faults import FaultKind

# The header by which an in-process client names a request, to be told when it is held.
TAG_HEADER = "X-Fault-Proxy-Tag"

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


class CardFault(enum.Enum):
    """A card refused, not a network fault: kept apart from `Fault`, whose members the payment
    tests sample expecting every payment to be charged once."""

    DECLINED = "card_declined"


AnyFault = Fault | RequestFault | CardFault

# Stripe's answer to a payment on a card its bank refuses.
DECLINE_STATUS = 402
DECLINE_BODY = {
    "error": {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
    }
}
PAYMENTS_PATH = "/v1/payment_intents"
CONTROL_PATH = "/_faults"
# What each fault the rates draw stands for among the demo's faults.
FAULT_KINDS: Mapping[str, FaultKind] = {
    Fault.ERROR_500.value: FaultKind.GATEWAY_500,
    Fault.DELAY.value: FaultKind.GATEWAY_TIMEOUT,
    CardFault.DECLINED.value: FaultKind.CARD_DECLINED,
}


@dataclass(frozen=True, slots=True)
class FaultRates:
    """The shares of payment requests struck, each 0..1, together at most 1."""

    error_500: float = 0.0
    timeout: float = 0.0
    decline: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_500", "timeout", "decline"):
            value = getattr(self, name)
            if type(value) not in (int, float) or not math.isfinite(value) or not 0 <= value <= 1:
                raise FaultSpecError(f"rate {name} must be a number 0..1, got {value!r}")
        if self.error_500 + self.timeout + self.decline > 1:
            raise FaultSpecError("the rates together must be at most 1")

    @classmethod
    def from_json(cls, document: object) -> FaultRates:
        """The rates of a `PUT /_faults` body; FaultSpecError naming what is wrong."""
        known = {f.name for f in fields(cls)}
        if not isinstance(document, dict):
            raise FaultSpecError("the body must be an object of rates")
        unknown = sorted(set(document) - known)
        if unknown:
            raise FaultSpecError(f"unknown rate {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return cls(**document)

    def draw(self, seed: int, key: str) -> Fault | CardFault | None:
        """The fault the request with idempotency key `key` meets, the same for the same seed."""
        digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        for fault, share in (
            (CardFault.DECLINED, self.decline),
            (Fault.ERROR_500, self.error_500),
            (Fault.DELAY, self.timeout),
        ):
            if point < share:
                return fault
            point -= share
        return None


@dataclass(frozen=True, slots=True)
class ProxiedRequest:
    method: str
    path: str
    fault: AnyFault | None
    forwarded: bool


class FaultProxy:
    """Use as `async with FaultProxy(upstream) as proxy:`; point the client at `proxy.url`.
    `rates`, `seed` and `hold`: the faults drawn for payment requests (module docstring)."""

    def __init__(
        self,
        upstream: str,
        *,
        rates: FaultRates | None = None,
        seed: int = 0,
        hold: float | None = None,
        port: int = 0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.rates = rates or FaultRates()
        self.seed = seed
        self.hold = hold
        self.port = port
        self.log: list[ProxiedRequest] = []
        self.injected: Counter[str] = Counter()
        self._struck_keys: set[str] = set()
        self._queued: deque[tuple[AnyFault, frozenset[str]]] = deque()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._held: set[asyncio.Task[tuple[int, bytes, str]]] = set()
        self._release = asyncio.Event()
        self._watched: dict[str, asyncio.Event] = {}
        self.url = ""

    def inject(self, faults: Iterable[AnyFault], *, methods: Iterable[str] = ("POST",)) -> None:
        """Queue faults for the next requests whose method is in `methods`, in order."""
        allowed = frozenset(m.upper() for m in methods)
        self._queued.extend((fault, allowed) for fault in faults)

    @contextlib.contextmanager
    def watching(self, tag: str) -> Iterator[asyncio.Event]:
        """An event set once the proxy holds the request carrying `tag` in `TAG_HEADER` (a
        DELAY fault: the request itself, or its answer after the gateway acted), for as long
        as the block runs."""
        event = self._watched[tag] = asyncio.Event()
        try:
            yield event
        finally:
            del self._watched[tag]

    def _holding(self, request: web.Request) -> None:
        event = self._watched.get(request.headers.get(TAG_HEADER, ""))
        if event is not None:
            event.set()

    @property
    def pending_faults(self) -> int:
        return len(self._queued)

    def clear(self) -> None:
        self._queued.clear()

    async def __aenter__(self) -> FaultProxy:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_get(CONTROL_PATH, self._control)
        app.router.add_put(CONTROL_PATH, self._control)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
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

    def counts(self) -> dict[FaultKind, int]:
        """The faults struck, as the demo's kinds (only those the rates can draw)."""
        return {kind: self.injected[value] for value, kind in FAULT_KINDS.items()}

    def _take_fault(self, request: web.Request) -> AnyFault | None:
        if self._queued and request.method in self._queued[0][1]:
            return self._queued.popleft()[0]
        if request.method != "POST" or request.path != PAYMENTS_PATH:
            return None
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return None  # the gateway client always sends one; without it nothing is stable
        fault = self.rates.draw(self.seed, key)
        if fault is not CardFault.DECLINED and key in self._struck_keys:
            return None  # a 500 or a timeout strikes a payment's first attempt only
        if fault is not None:
            self._struck_keys.add(key)
        return fault

    async def _control(self, request: web.Request) -> web.Response:
        if request.method == "PUT":
            try:
                self.rates = FaultRates.from_json(json.loads(await request.read()))
            except (ValueError, TypeError, FaultSpecError) as error:
                return web.json_response({"error": str(error).splitlines()[0]}, status=400)
        return web.json_response({"rates": asdict(self.rates), "injected": dict(self.injected)})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._take_fault(request)
        forwarded = fault not in (Fault.ERROR_500, CardFault.DECLINED)
        self.log.append(ProxiedRequest(request.method, request.path, fault, forwarded))
        if fault is not None and fault is not Fault.PASS:
            self.injected[fault.value] += 1
        if fault is Fault.ERROR_500:
            return web.Response(status=500, text="injected failure")
        if fault is CardFault.DECLINED:
            return web.json_response(DECLINE_BODY, status=DECLINE_STATUS)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        forward = self._forward(request.method, str(request.rel_url), headers, await request.read())
        if fault is RequestFault.DELAY:
            # A task of its own, so the request still arrives after the client has hung up.
            held = asyncio.ensure_future(self._when_released(self._release, forward))
            self._held.add(held)
            held.add_done_callback(self._held.discard)
            self._holding(request)
            status, body, content_type = await asyncio.shield(held)
        else:
            status, body, content_type = await forward
        if fault is Fault.DROP_RESPONSE:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=204)
        if fault is Fault.DELAY:
            self._holding(request)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), self.hold)
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


# --- the proxy as a process of its own (the demo's) -----------------------------------------

READY = "fault proxy listening on "


@dataclass(frozen=True, slots=True)
class RunningProxy:
    """A fault proxy process: where it listens; switch its rates and read its counts."""

    url: str
    pid: int

    def set_rates(self, rates: FaultRates) -> None:
        # Plain HTTP on loopback: no CA bundle to load (about 20 ms of CPU a client).
        answer = httpx.put(self.url + CONTROL_PATH, json=asdict(rates), timeout=10, verify=False)
        answer.raise_for_status()

    def injected(self) -> dict[str, int]:
        answer = httpx.get(self.url + CONTROL_PATH, timeout=10, verify=False)
        answer.raise_for_status()
        return {str(k): int(v) for k, v in answer.json()["injected"].items()}

    def counts(self) -> dict[FaultKind, int]:
        """The faults struck, as the demo's kinds."""
        injected = self.injected()
        return {kind: injected.get(value, 0) for value, kind in FAULT_KINDS.items()}


@contextlib.contextmanager
def running_fault_proxy(
    upstream: str, *, rates: FaultRates | None = None, seed: int = 0, hold: float = 15.0
) -> Iterator[RunningProxy]:
    """`python -m simulators.fault_proxy` in front of `upstream` until the block ends."""
    rates = rates or FaultRates()
    command = [
        sys.executable, "-m", "simulators.fault_proxy", "--upstream", upstream,
        "--seed", str(seed), "--hold", str(hold), "--error-500", str(rates.error_500),
        "--timeout", str(rates.timeout), "--decline", str(rates.decline),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if not line.startswith(READY):
            error = process.stderr.read().decode() if process.stderr else ""
            raise FaultSpecError(f"the fault proxy did not start: {error.strip()[-500:]}")
        yield RunningProxy(line[len(READY) :].split()[0], process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


async def _serve(arguments: argparse.Namespace) -> None:
    rates = FaultRates(arguments.error_500, arguments.timeout, arguments.decline)
    proxy = FaultProxy(
        arguments.upstream, rates=rates, seed=arguments.seed, hold=arguments.hold,
        port=arguments.port,
    )  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with proxy:
        print(f"{READY}{proxy.url} -> {proxy.upstream}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.fault_proxy",
        description="A fault-injecting proxy in front of a Stripe-compatible gateway.",
    )
    parser.add_argument("--upstream", required=True, help="the gateway's base URL")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--error-500", type=float, default=0.0, help="share of payments")
    parser.add_argument("--timeout", type=float, default=0.0, help="share of payments")
    parser.add_argument("--decline", type=float, default=0.0, help="share of payments")
    parser.add_argument("--hold", type=float, default=15.0, help="seconds a timeout holds")
    arguments = parser.parse_args(argv)
    try:
        asyncio.run(_serve(arguments))
    except FaultSpecError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
