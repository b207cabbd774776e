"""The demo's backend on PostgreSQL: a schema of its own, and `--servers N` processes.

`demo_database`: each demo run on PostgreSQL works in a schema of its own, named after its data
directory (a run again on the directory drops the schema and makes it afresh, as it empties the
directory; two runs on two directories never meet), migrated once by the day before's service
layer, before any server starts.

`ServeCluster`: N `faregate serve` processes and one `faregate worker` on that schema, sharing
one Redis (REDIS_URL, else a private one the demo runs in the data directory) and one gateway
(the directory's localstripe, which the demo keeps running, so restarting any server leaves it
up). The servers run no pricing worker of their own (`--no-worker`): the worker process prices
what the uploads queue. The demo's HTTP client is the load balancer (`RoundRobin`): request
after request goes to the next server, so every device's enrolment, syncs, uploads and
heartbeats, every phone's sign-in and purchases and finance's prepare and approve meet
several processes, and what one stores, revokes or remembers in Redis (the deny list, nonces,
a station's occupancy) the others must honour.

The processes share one clock (`now`): a device signs its requests with its clock corrected
from one server's, and every server refuses a signature more than five minutes off its own. So
the mid-day restart (`restart`) stops the last server and starts it again on its peers' clock
while they keep serving; stop, then start, moves every process to a new moment of the day.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import shlex
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from faregate.config import Settings
from faregate.database import connected, display_url, parse_database_url
from faregate.demo.backend import Backend, ServeProcess, faregate_command, spawn, terminate
from faregate.errors import BackendError, DatabaseUnavailable
from faregate.redis_runtime import private_redis, private_redis_dir
from gateways.localstripe_server import localstripe

SCHEMA_PREFIX = "faregate_demo_"
MAX_SERVERS = 8  # on the one machine the demo runs on
WORKER_LOG = "worker.log"
WORKER_POLL = "0.2"  # seconds between looks at an empty queue: the demo's day is short


def is_postgres(settings: Settings) -> bool:
    url = settings.database_url
    return bool(url) and parse_database_url(url or "").get_backend_name() == "postgresql"


def schema_of(settings: Settings) -> str:
    """The schema of the demo run on `settings.data_dir` (an absolute path)."""
    return SCHEMA_PREFIX + hashlib.sha256(str(settings.data_dir).encode()).hexdigest()[:16]


async def demo_database(settings: Settings) -> Settings:
    """`settings` on the demo run's own fresh schema when its database is PostgreSQL (the
    embedded default, a SQLite file in the emptied data directory, is fresh already)."""
    if not is_postgres(settings):
        return settings
    assert settings.database_url is not None
    schema = schema_of(settings)
    try:
        async with connected(settings.database_url) as connection, connection.begin():
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except DBAPIError as error:  # e.g. a user without CREATE on the database
        raise DatabaseUnavailable(
            f"cannot make the demo's schema {schema} in "
            f"{display_url(settings.database_url)}: {error.orig}"
        ) from None
    url = parse_database_url(settings.database_url).update_query_dict({"search_path": schema})
    return replace(settings, database_url=url.render_as_string(hide_password=False))


def database_option(settings: Settings) -> str:
    """What `faregate settle DAY --data-dir DIR` needs besides to find the demo's database
    when it is not the SQLite file in DIR: ` --database-url URL` (its password hidden)."""
    if not settings.database_url:
        return ""
    shown = parse_database_url(settings.database_url).render_as_string(hide_password=True)
    return f" --database-url {shlex.quote(shown)}"


def demo_backend(settings: Settings, environment: Mapping[str, str], *, servers: int) -> Backend:
    """One `faregate serve`, or (`servers` > 1, PostgreSQL) a cluster of them and a worker."""
    if servers == 1:
        return ServeProcess(settings, environment)
    return ServeCluster(settings, environment, servers=servers)


class WorkerProcess:
    """`faregate worker` on the demo's settings, its clock on the simulated day."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log_path = settings.data_dir / WORKER_LOG
        self._process: asyncio.subprocess.Process | None = None

    async def start(self, at: datetime, environment: Mapping[str, str]) -> None:
        command = [
            *faregate_command(self.settings), "worker", "--simulated-time", at.isoformat(),
            "--poll", WORKER_POLL,
        ]  # fmt: skip
        self._process = await spawn(command, self.log_path, environment)

    async def stop(self) -> None:
        """SIGTERM (the cycle in progress commits or rolls back), then wait for it to exit:
        a worker that had exited with an error by then is a BackendError."""
        process, self._process = self._process, None
        if process is not None and process.returncode not in (None, 0):
            raise BackendError(
                f"faregate worker exited with {process.returncode}; see {self.log_path}"
            )
        await terminate(process, "faregate worker")


class ServeCluster:
    """`servers` `faregate serve` processes and a `faregate worker` on one PostgreSQL schema,
    one Redis and one gateway; reached through `client` (round robin). `url` is the first
    server's."""

    def __init__(self, settings: Settings, environment: Mapping[str, str], *, servers: int):
        self.settings = settings
        self.environment = dict(environment)
        self.log_path = settings.data_dir / "serve-1.log"
        self.servers = [
            ServeProcess(settings, log_name=f"serve-{n}.log", options=("--no-worker",))
            for n in range(1, servers + 1)
        ]
        for server in self.servers:
            server.environment = self.environment  # one gateway for all: cleared for all
        self.worker = WorkerProcess(settings)
        self.answered = [0] * servers  # requests each server answered, through `client`
        self.restarts = 0
        self._turns = itertools.cycle(range(servers))
        self._origin = (datetime.min, 0.0)  # the shared clock: (simulated, loop time) at start
        self._shared: contextlib.AsyncExitStack | None = None

    def now(self) -> datetime:
        """The simulated moment every process of the cluster reads now."""
        at, started = self._origin
        return at + timedelta(seconds=asyncio.get_running_loop().time() - started)

    async def start(self, at: datetime) -> None:
        """The shared Redis and gateway, then the servers (the first alone: it makes the
        device master key they share) and the worker, every clock at `at`."""
        self._origin = (at, asyncio.get_running_loop().time())
        try:
            settings = await self._start_shared()
            for server in self.servers:
                server.settings = settings
            self.worker.settings = settings
            first, *others = self.servers
            await first.start(self.now())
            await asyncio.gather(*(server.start(self.now()) for server in others))
            await self.worker.start(self.now(), self.environment)
        except BaseException:
            await self.stop()
            raise

    async def _start_shared(self) -> Settings:
        shared = contextlib.AsyncExitStack()
        self._shared = shared
        redis_url = self.settings.redis_url
        if not redis_url:
            redis = private_redis(private_redis_dir(self.settings))
            redis_url = (await shared.enter_async_context(redis)).url
        await shared.enter_async_context(localstripe(self.settings.data_dir / "localstripe"))
        return replace(self.settings, redis_url=redis_url)

    async def stop(self) -> None:
        shared, self._shared = self._shared, None
        try:
            await asyncio.gather(*(server.stop() for server in self.servers), self.worker.stop())
        finally:
            if shared is not None:
                await shared.aclose()

    async def restart(self, at: datetime) -> None:
        """The mid-day fault: the last server stopped (SIGTERM) and started again while the
        others serve. It comes back on their clock, not at `at`: see the module's doc."""
        server = self.servers[-1]
        await server.stop()
        await server.start(self.now())
        self.restarts += 1

    async def wait(self) -> None:
        """Until every server has exited."""
        await asyncio.gather(*(server.wait() for server in self.servers))

    @property
    def url(self) -> str:
        return self.servers[0].url

    def client(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=timeout, transport=RoundRobin(self))

    def describe(self) -> str:
        urls = ", ".join(server.url for server in self.servers)
        logs = [server.log_path.name for server in self.servers] + [self.worker.log_path.name]
        return (
            f"backend: {len(self.servers)} faregate serve processes ({urls}) and a faregate "
            f"worker on PostgreSQL schema {schema_of(self.settings)}, one Redis and one "
            f"gateway; requests go to each server in turn (logs: {', '.join(logs)})"
        )

    def figures(self) -> dict[str, Any]:
        return {"servers": {s.url: n for s, n in zip(self.servers, self.answered, strict=True)}}

    def next_server(self) -> int:
        return next(self._turns)


class RoundRobin(httpx.AsyncBaseTransport):
    """The cluster's load balancer: each request goes to the next server in turn."""

    def __init__(self, cluster: ServeCluster) -> None:
        self._cluster = cluster
        self._transport = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        turn = self._cluster.next_server()
        port = self._cluster.servers[turn].port
        request.url = request.url.copy_with(port=port)
        request.headers["Host"] = f"{request.url.host}:{port}"
        response = await self._transport.handle_async_request(request)
        self._cluster.answered[turn] += 1
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()
