"""Start a private localstripe on a free loopback port, wait until it answers, stop it after.

The one helper behind the pytest fixture, the demo and the benchmark. Each instance keeps its
state in its own directory (see `gateways._localstripe_launcher`), so instances never share or
lose state; pass the same directory again to resume where a previous instance stopped.

    with running_localstripe(tmp_path / "stripe") as server:
        gateway = StripeGateway(server.api_key, server.base_url)

    async with localstripe(tmp_path / "stripe") as server: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateways._localstripe_launcher import PORT_FILE_NAME, STATE_FILE_NAME
from gateways.errors import GatewayUnavailable

# localstripe accepts any key shaped like a secret key.
DEFAULT_API_KEY = "sk_test_faregate_local"
LOG_FILE_NAME = "localstripe.log"


@dataclass(frozen=True, slots=True)
class LocalStripe:
    """A running localstripe: where it listens and which key it accepts."""

    base_url: str
    api_key: str
    state_dir: Path
    pid: int

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


def _wait_until_answering(
    process: subprocess.Popen[bytes], state_dir: Path, api_key: str, deadline: float
) -> str:
    port_file = state_dir / PORT_FILE_NAME
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (state_dir / LOG_FILE_NAME).read_text(errors="replace")[-2000:]
            raise GatewayUnavailable(f"localstripe exited with code {process.returncode}: {log}")
        if port_file.exists():
            base_url = f"http://127.0.0.1:{int(port_file.read_text())}"
            try:
                response = httpx.get(
                    f"{base_url}/v1/customers",
                    params={"limit": 1},
                    headers={"Authorization": f"Bearer {api_key}"},
                    timeout=1.0,
                )
            except httpx.TransportError:
                pass
            else:
                if response.status_code == 200:
                    return base_url
        time.sleep(0.05)
    raise GatewayUnavailable("localstripe did not answer in time")


def start_localstripe(
    state_dir: Path,
    *,
    api_key: str = DEFAULT_API_KEY,
    from_scratch: bool = False,
    startup_timeout: float = 20.0,
) -> tuple[LocalStripe, subprocess.Popen[bytes]]:
    """Start localstripe with its state in `state_dir`; returns once it answers requests."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / PORT_FILE_NAME).unlink(missing_ok=True)
    command = [sys.executable, "-m", "gateways._localstripe_launcher"]
    command += ["--state-dir", str(state_dir)]
    if from_scratch:
        command.append("--from-scratch")
    with (state_dir / LOG_FILE_NAME).open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        base_url = _wait_until_answering(
            process, state_dir, api_key, time.monotonic() + startup_timeout
        )
    except BaseException:
        stop_localstripe(process)
        raise
    return LocalStripe(base_url, api_key, state_dir, process.pid), process


def stop_localstripe(process: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
    if process.poll() is not None:
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
