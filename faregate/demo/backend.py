"""The demo's backend: `faregate serve` on the demo's data directory, as its own process.

`Backend` is what the demo's stages use of it: `ServeProcess` is the one process of the
embedded default, `faregate.demo.cluster.ServeCluster` several on PostgreSQL with a worker.
The demo starts it, stops it and restarts it (a real process restart: SIGTERM, then a new
process on the same directory) and reaches it only over HTTP. Its clock runs on the
simulated day (`serve --simulated-time`): each start sets it to the moment of the day the
demo has reached, so what the server stamps (credentials, revocations, the day's cut-off) fits
the taps the devices make. Its SQLite database, private Redis and private localstripe live in
the data directory; its output goes to `serve.log` there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from faregate.config import Settings
from faregate.errors import BackendError

STARTUP_TIMEOUT = 90.0  # seconds: migrations and localstripe on a loaded 2-core machine
STOP_TIMEOUT = 30.0
LOG_FILE = "serve.log"
# The demo's gateway is the private localstripe in its directory, whatever the shell says.
_GATEWAY_VARIABLES = ("FAREGATE_GATEWAY", "STRIPE_API_KEY", "STRIPE_API_BASE",
                      "STRIPE_WEBHOOK_SECRET")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def faregate_command(settings: Settings) -> list[str]:
    """`faregate` with the global options that put it on `settings`' directory and servers."""
    command = [sys.executable, "-m", "faregate", "--data-dir", str(settings.data_dir)]
    if settings.database_url:
        command += ["--database-url", settings.database_url]
    if settings.redis_url:
        command += ["--redis-url", settings.redis_url]
    return command


async def spawn(
    command: Sequence[str], log_path: Path, environment: Mapping[str, str]
) -> asyncio.subprocess.Process:
    """`command` as a process of its own, its output appended to `log_path`; `environment`
    over the shell's, whose gateway variables are dropped."""
    env = {k: v for k, v in os.environ.items() if k not in _GATEWAY_VARIABLES}
    env.update(environment)
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *command, stdout=log, stderr=log, env=env, stdin=asyncio.subprocess.DEVNULL
        )


async def terminate(process: asyncio.subprocess.Process | None, name: str) -> None:
    """SIGTERM, then wait for the process to exit (killed, and BackendError, if it will not)."""
    if process is None or process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise BackendError(f"{name} did not stop in {STOP_TIMEOUT:.0f} s") from None


class Backend(Protocol):
    """The demo's backend as its stages see it: one address, started and stopped as a whole.

    `restart` is the mid-day fault (a real process restart); stop, then start, moves every
    process to a new simulated moment. `environment` holds the variables set for the servers
    over the shell's (the demo's gateway behind its fault proxy)."""

    environment: dict[str, str]

    @property
    def url(self) -> str: ...

    async def start(self, at: datetime) -> None: ...

    async def stop(self) -> None: ...

    async def restart(self, at: datetime) -> None: ...

    async def wait(self) -> None: ...

    def client(self, timeout: float) -> httpx.AsyncClient:
        """An HTTP client on the backend (`base_url` set)."""

    def describe(self) -> str:
        """One line for the story: its processes, addresses and logs."""

    def figures(self) -> dict[str, Any]:
        """What `--json` adds about the backend (nothing for one process)."""


class ServeProcess:
    """`faregate serve` for the demo's settings; `url` while it runs."""

    def __init__(
        self,
        settings: Settings,
        environment: Mapping[str, str] | None = None,
        *,
        log_name: str = LOG_FILE,
        options: Sequence[str] = (),
    ) -> None:
        """`environment`: variables set for the server over the shell's (the demo's gateway
        behind its fault proxy); `options`: more of `faregate serve`'s own."""
        self.settings = settings
        self.environment = dict(environment or {})
        self.log_path = settings.data_dir / log_name
        self.options = tuple(options)
        self.port = 0  # chosen at the first start and kept: devices keep their connections' address
        self.starts = 0
        self._process: asyncio.subprocess.Process | None = None

    def command(self, at: datetime, port: int) -> list[str]:
        return [
            *faregate_command(self.settings), "serve", "--port", str(port),
            "--simulated-time", at.isoformat(), "--shutdown-timeout", "10", *self.options,
        ]  # fmt: skip

    async def start(self, at: datetime) -> None:
        """Start the server with its clock at `at`; return once /healthz answers 200."""
        self.port = self.port or _free_port()
        self._process = await spawn(self.command(at, self.port), self.log_path, self.environment)
        self.starts += 1
        await self._wait_healthy()

    async def _wait_healthy(self) -> None:
        process = self._process
        assert process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT
        async with httpx.AsyncClient(base_url=self.url, timeout=5.0) as http:
            while loop.time() < deadline:
                if process.returncode is not None:
                    raise BackendError(
                        f"faregate serve exited with {process.returncode}; see {self.log_path}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)  # polling a starting process: nothing to wait on
        await self.stop()
        raise BackendError(f"faregate serve not healthy after {STARTUP_TIMEOUT:.0f} s")

    async def stop(self) -> None:
        """SIGTERM (the server finishes the requests it holds), then wait for it to exit."""
        process, self._process = self._process, None
        await terminate(process, "faregate serve")

    async def wait(self) -> None:
        """Until the server exits (a signal to it, or Ctrl-C in its terminal)."""
        if self._process is not None:
            await self._process.wait()

    async def restart(self, at: datetime) -> None:
        await self.stop()
        await self.start(at)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=timeout)

    def describe(self) -> str:
        return f"backend: faregate serve on {self.url} (log: {self.log_path})"

    def figures(self) -> dict[str, Any]:
        return {}

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None
