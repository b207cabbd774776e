"""`faregate serve` as a process: it answers, and SIGTERM shuts it down cleanly (exit 0, the
private Redis stopped and its socket gone); a bad setting is one `Error:` line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateways.localstripe_server import LocalStripe

from .conftest import FEED

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(db_url: str, localstripe_server: LocalStripe) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DATABASE_URL=db_url,
        STRIPE_API_KEY=localstripe_server.api_key,
        STRIPE_API_BASE=localstripe_server.base_url,
        STRIPE_WEBHOOK_SECRET="whsec_serve_test",
    )
    return env


def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("faregate serve did not answer")


def test_serve_answers_and_stops_gracefully_on_sigterm(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    port = _free_port()
    data_dir = tmp_path / "var"
    command = [sys.executable, "-m", "faregate", "--data-dir", str(data_dir), "serve"]
    command += ["--port", str(port), "--fare-feed", str(FEED)]
    process = subprocess.Popen(
        command,
        env=_environment(db_url, localstripe_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = _wait_healthy(base, process)
        assert health.json() == {"status": "ok", "database": "ok", "redis": "ok"}
        assert (data_dir / "redis" / "redis.sock").exists()
        assert httpx.get(f"{base}/openapi.json").json()["openapi"] == "3.1.0"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not (data_dir / "redis" / "redis.sock").exists()


def test_serve_with_an_unreachable_redis_is_one_error_line(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    env = _environment(db_url, localstripe_server) | {"REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "serve",
         "--port", str(_free_port()), "--fare-feed", str(FEED)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: Redis at redis://127.0.0.1:1/0 does not answer")
    assert "Traceback" not in result.stderr


def test_serve_with_stripe_key_but_no_webhook_secret_is_a_usage_error(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    env = _environment(db_url, localstripe_server)
    del env["STRIPE_WEBHOOK_SECRET"]
    result = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "serve"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "STRIPE_WEBHOOK_SECRET is not" in result.stderr
    assert "Traceback" not in result.stderr
