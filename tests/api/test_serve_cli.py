"""`faregate serve` as a process: it answers, and SIGTERM shuts it down cleanly (exit 0, the
private Redis stopped and its socket gone); a bad setting is one `Error:` line."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateways.localstripe_server import LocalStripe

from .conftest import FEED, free_port, server_environment, wait_healthy

pytestmark = pytest.mark.slow


def test_serve_answers_and_stops_gracefully_on_sigterm(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    port = free_port()
    data_dir = tmp_path / "var"
    command = [sys.executable, "-m", "faregate", "--data-dir", str(data_dir), "serve"]
    command += ["--port", str(port), "--fare-feed", str(FEED)]
    process = subprocess.Popen(
        command,
        env=server_environment(db_url, localstripe_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_healthy(base, process)
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
    env = server_environment(db_url, localstripe_server) | {"REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "serve",
         "--port", str(free_port()), "--fare-feed", str(FEED)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: Redis at redis://127.0.0.1:1/0 does not answer")
    assert "Traceback" not in result.stderr


def test_serve_with_stripe_key_but_no_webhook_secret_is_a_usage_error(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    env = server_environment(db_url, localstripe_server)
    del env["STRIPE_WEBHOOK_SECRET"]
    result = subprocess.run(
        [sys.executable, "-m", "faregate", "--data-dir", str(tmp_path), "serve"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "STRIPE_WEBHOOK_SECRET is not" in result.stderr
    assert "Traceback" not in result.stderr
