"""Benchmark: the CPU a `faregate serve` start costs until its first /healthz answer.

Every server start in the test suite (the serve and multi-process API tests, each demo day, the
fuzz, the CLI tests) pays it; on a loaded machine wall time says little, so this reads the
server process's own user+system CPU (/proc/PID/stat) when /healthz first answers. Each start
is on the embedded default (a fresh data directory: SQLite, a private Redis whose CPU is not
counted), then stopped with SIGTERM.

Prints JSON (CPU seconds per start, median) and a one-line summary.

    python bench/serve_start.py [--starts 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start() -> float:
    port = _free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        command = [sys.executable, "-m", "faregate", "--data-dir", data_dir, "serve"]
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
                while True:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("faregate serve did not answer /healthz")
                    try:
                        http.get("/healthz")
                        break
                    except httpx.TransportError:
                        time.sleep(0.02)  # polling a server that is still starting
            return _cpu_seconds(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    starts = [one_start() for _ in range(args.starts)]
    result = {"starts": starts, "median_cpu_s": statistics.median(starts)}
    print(json.dumps({"benchmark": "serve_start", **result}, indent=2))
    print(f"serve_start: median {result['median_cpu_s']:.2f} CPU-s to the first /healthz "
          f"over {args.starts} starts")


if __name__ == "__main__":
    main()
