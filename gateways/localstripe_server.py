"""Start a private localstripe on a free loopback port, wait until it answers, stop it after.

The one helper behind the pytest fixture, the demo, the benchmark and the private gateway of a
data directory. Each instance keeps its state in its own directory (see
`gateways._localstripe_launcher`), so instances never share or lose state; pass the same
directory again to resume where a previous instance stopped.

One instance per directory: asking for a directory whose localstripe is running (another
process started it: `faregate settle` while `faregate serve` runs on the same data directory)
reuses that one, which its starter alone stops; asking for it `from_scratch` is refused.

    with running_localstripe(tmp_path / "stripe") as server:
        gateway = StripeGateway(server.api_key, server.base_url)

    async with localstripe(tmp_path / "stripe") as server: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateways._localstripe_launcher import (
    LOCK_FILE_NAME,
    LOCKED_EXIT_CODE,
    PORT_FILE_NAME,
    STATE_FILE_NAME,
    lock_state_dir,
)
from gateways.errors import GatewayUnavailable

# localstripe accepts any key shaped like a secret key.
DEFAULT_API_KEY = "sk_test_faregate_local"
LOG_FILE_NAME = "localstripe.log"


@dataclass(frozen=True, slots=True)
class LocalStripe:
    """A running localstripe: where it listens and which key it accepts. `reused`: another
    process started it (and will stop it)."""

    base_url: str
    api_key: str
    state_dir: Path
    pid: int
    reused: bool = False

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE_NAME

    async def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None, name: str = "faregate"
    ) -> None:
        """Ask localstripe to POST signed events to `url` (a localstripe-only endpoint)."""
        data: dict[str, str | list[str]] = {"url": url, "secret": secret}
        if events is not None:
            data["events[]"] = list(events)
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.base_url}/_config/webhooks/{name}", data=data)
        response.raise_for_status()


def _answers(base_url: str, api_key: str) -> bool:
    try:
        response = httpx.get(
            f"{base_url}/v1/customers",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=1.0,
            # Plain HTTP on loopback: without this each look loads the CA bundle (about 20 ms
            # of CPU), 20 looks a second while a localstripe starts.
            verify=False,
        )
    except httpx.TransportError:
        return False
    return response.status_code == 200


def _published_url(state_dir: Path) -> str | None:
    try:
        return f"http://127.0.0.1:{int((state_dir / PORT_FILE_NAME).read_text())}"
    except (OSError, ValueError):
        return None  # not published yet, or being replaced


def _wait_until_answering(
    process: subprocess.Popen[bytes], state_dir: Path, api_key: str, deadline: float
) -> str | None:
    """Our launcher's address once it answers; None if it found the directory locked (another
    starter won the race)."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if process.returncode == LOCKED_EXIT_CODE:
                return None
            log = (state_dir / LOG_FILE_NAME).read_text(errors="replace")[-2000:]
            raise GatewayUnavailable(f"localstripe exited with code {process.returncode}: {log}")
        base_url = _published_url(state_dir)
        # Only our launcher's address counts: one that lost the race answers at the winner's.
        owner = _lock_owner(state_dir)
        if owner and owner[0] == process.pid and base_url and _answers(base_url, api_key):
            return base_url
        time.sleep(0.05)
    raise GatewayUnavailable("localstripe did not answer in time")


def _lock_owner(state_dir: Path) -> tuple[int, int | None] | None:
    """The pids the running launcher wrote in its lock file: its own and its parent's."""
    try:
        pids = [int(word) for word in (state_dir / LOCK_FILE_NAME).read_text().split()]
    except (OSError, ValueError):
        return None
    if len(pids) not in (1, 2):
        return None
    return pids[0], pids[1] if len(pids) == 2 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked(state_dir: Path) -> bool:
    """Whether a running localstripe holds the directory (its launcher keeps the lock)."""
    fd = lock_state_dir(state_dir)
    if fd is None:
        return True
    os.close(fd)
    return False


def _running(state_dir: Path, api_key: str) -> LocalStripe | None:
    """The localstripe another process runs on the directory, once it answers; not one whose
    starter died (it is stopping)."""
    base_url, owner = _published_url(state_dir), _lock_owner(state_dir)
    if base_url is None or owner is None or not _locked(state_dir):
        return None
    pid, parent = owner
    if (parent is not None and not _alive(parent)) or not _answers(base_url, api_key):
        return None
    return LocalStripe(base_url, api_key, state_dir, pid, reused=True)


def start_localstripe(
    state_dir: Path,
    *,
    api_key: str = DEFAULT_API_KEY,
    from_scratch: bool = False,
    startup_timeout: float = 20.0,
) -> tuple[LocalStripe, subprocess.Popen[bytes] | None]:
    """The localstripe of `state_dir` once it answers requests: started here (with the process
    to stop), or the one another process runs there (process None). `from_scratch` refuses a
    running one: its state is someone else's."""
    state_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + startup_timeout
    while True:
        running = _running(state_dir, api_key)
        if running is not None:
            if from_scratch:
                raise GatewayUnavailable(
                    f"another process runs a localstripe on {state_dir} (pid {running.pid}); "
                    "stop it before starting from scratch, or use another directory"
                )
            return running, None
        if not _locked(state_dir):
            started = _start(state_dir, api_key, from_scratch, deadline)
            if started is not None:
                return started
            continue  # started by someone else meanwhile: reuse theirs
        if time.monotonic() > deadline:
            raise GatewayUnavailable(f"the localstripe running on {state_dir} does not answer")
        time.sleep(0.05)


def _start(
    state_dir: Path, api_key: str, from_scratch: bool, deadline: float
) -> tuple[LocalStripe, subprocess.Popen[bytes]] | None:
    command = [sys.executable, "-m", "gateways._localstripe_launcher"]
    command += ["--state-dir", str(state_dir), "--parent-pid", str(os.getpid())]
    if from_scratch:
        command.append("--from-scratch")
    with (state_dir / LOG_FILE_NAME).open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        base_url = _wait_until_answering(process, state_dir, api_key, deadline)
    except BaseException:
        stop_localstripe(process)
        raise
    if base_url is None:
        return None
    return LocalStripe(base_url, api_key, state_dir, process.pid), process


def stop_localstripe(process: subprocess.Popen[bytes] | None, *, grace: float = 5.0) -> None:
    """Stop a localstripe we started (None: a reused one, which is not ours to stop)."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_localstripe(
    state_dir: Path, *, api_key: str = DEFAULT_API_KEY, from_scratch: bool = False
) -> Iterator[LocalStripe]:
    server, process = start_localstripe(state_dir, api_key=api_key, from_scratch=from_scratch)
    try:
        yield server
    finally:
        stop_localstripe(process)


@contextlib.asynccontextmanager
async def localstripe(
    state_dir: Path, *, api_key: str = DEFAULT_API_KEY, from_scratch: bool = False
) -> AsyncIterator[LocalStripe]:
    """The async form of `running_localstripe`: starting and stopping run off the event loop."""
    server, process = await asyncio.to_thread(
        start_localstripe, state_dir, api_key=api_key, from_scratch=from_scratch
    )
    try:
        yield server
    finally:
        await asyncio.to_thread(stop_localstripe, process)
