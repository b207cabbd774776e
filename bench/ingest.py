"""Benchmark: durable tap ingest over HTTP, one and two `faregate serve` processes.

The servers run as `faregate serve` subprocesses on one PostgreSQL database and one Redis (two
processes on different ports share both). This process is the load: many simulated devices,
each registered and enrolled like a real gate (`POST /device/v1/enrol`), uploading signed
journal batches (docs/DEVICE-API.md) over loopback, at most `--concurrency` uploads in
flight. A tap counts once its batch is answered 200 (the answer comes only after the commit),
so taps/s here is durable taps/s. Each run starts from an empty taps table; the stored count is
checked against what was sent.

The baseline, measured in the same run on the same database: the same taps written with one
plain `COPY` (asyncpg `copy_records_to_table`) into a table shaped like `taps` (its indexes and
unique key included). The ratio says what HTTP, auth, JSON and idempotent insert cost on top.
The servers' own CPU time over the uploads (from /proc, Linux) is reported per tap as well:
on a shared machine taps/s and the COPY both move with the load, CPU time much less.

Prints JSON, then one summary line.

    python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        [--redis-url redis://127.0.0.1:6379/0] [--devices 200] [--batches 10] [--batch-size 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import httpx

from faregate.api.device_auth import load_or_create_master_key
from qr.keys import init_keys
from simulators.device_client import DeviceClient, generate_device_key, sign_request
from ticketing.audit import Actor
from ticketing.devices import Binding, DeviceKind
from ticketing.fares.feed import load_feed
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.devices import add_device, places_of
from ticketing.services.riders import Registration, register_riders
from ticketing.unit_of_work import UnitOfWorkFactory, create_engine

ROOT = Path(__file__).resolve().parents[1]
FEED = ROOT / "data" / "hanoi"
BENCH_DB = "faregate_bench_ingest"
RIDERS = 5_000  # accounts with one credential each; every tap is one of theirs
CREDENTIAL_BASE = 10_000


@dataclass(frozen=True, slots=True)
class Upload:
    device_id: str
    secret: bytes
    body: bytes
    records: int


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) process `pid` has used so far; None where /proc is not."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def servers_cpu(servers: Servers) -> float | None:
    found = [process_cpu(process.pid) for process in servers.processes]
    return None if None in found else sum(f for f in found if f is not None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def fresh_database(server_url: str) -> str:
    """Drop and create the bench database; its asyncpg (libpq-style) URL."""
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {BENCH_DB}")
    finally:
        await admin.close()
    return with_database(server_url, BENCH_DB)


async def add_riders(database_url: str) -> None:
    """`RIDERS` postpaid riders, rider n holding credential CREDENTIAL_BASE + n."""
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    try:
        await register_riders(
            UnitOfWorkFactory(engine),
            [
                Registration(
                    RiderAccount(f"acct-{n}", "regular", PaymentMode.POSTPAID_CARD, "VND"),
                    [
                        CredentialRecord(
                            CREDENTIAL_BASE + n,
                            f"acct-{n}",
                            now - timedelta(days=30),
                            now + timedelta(days=365),
                            now - timedelta(days=30),
                        )
                    ],
                )
                for n in range(RIDERS)
            ],
            at=now,
        )
    finally:
        await engine.dispose()


async def enrol_devices(database_url: str, base: str, device_ids: list[str]) -> list[bytes]:
    """Register each device (a gate at m2a_01) and enrol it at `base`; their secrets."""
    engine = create_engine(database_url)
    places = places_of(load_feed(FEED), lots=())
    binding = Binding(kind=DeviceKind.GATE, stop_id="m2a_01")
    found = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for device_id in device_ids:
                enrolment = await add_device(
                    UnitOfWorkFactory(engine), device_id, binding, places=places,
                    by=Actor.administrator("bench"),
                )  # fmt: skip
                device = await DeviceClient.enrol(
                    "", device_id, enrolment.code, generate_device_key(), http=http
                )
                found.append(device.secret)
    finally:
        await engine.dispose()
    return found


def make_uploads(
    device_ids: list[str], device_secrets: list[bytes], batches: int, size: int, start: datetime
) -> list[Upload]:
    """Every device's batches in order, as the JSON bodies a gate would send, its taps a
    second apart from `start` (after the devices were enrolled, and less than a day ahead:
    the server quarantines taps from before a device's enrolment or far from its clock)."""
    uploads = []
    for d, (device_id, secret) in enumerate(zip(device_ids, device_secrets, strict=True)):
        seq = 0
        for _ in range(batches):
            records = []
            for _ in range(size):
                seq += 1
                records.append(
                    {
                        "device_id": device_id,
                        "device_seq": seq,
                        # a credential id, never an account: the server attributes the tap
                        "credential_id": str(CREDENTIAL_BASE + (d * 7919 + seq) % RIDERS),
                        "at": (start + timedelta(seconds=seq % 80_000)).isoformat(),
                        "route_id": "m2a",
                        "stop_id": "m2a_01",  # where the bench's gates are
                        "kind": "entry" if seq % 2 else "exit",
                    }
                )
            body = json.dumps({"records": records}, separators=(",", ":")).encode()
            uploads.append(Upload(device_id, secret, body, size))
    return uploads


class Servers:
    """`faregate serve` subprocesses sharing one database, Redis and device master key."""

    def __init__(
        self, count: int, database_url: str, redis_url: str, work: Path, *, worker: bool
    ) -> None:
        self.count = count
        self.worker = worker
        self.database_url = database_url
        self.redis_url = redis_url
        self.work = work
        self.processes: list[subprocess.Popen[bytes]] = []
        self.bases: list[str] = []

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("STRIPE_API_KEY",)}
        env.update(DATABASE_URL=self.database_url, REDIS_URL=self.redis_url)
        for n in range(self.count):  # one at a time: the first one migrates
            port = free_port()
            log = (self.work / f"serve-{n}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "faregate", "--data-dir", str(self.work / f"var-{n}"),
                 "serve", "--port", str(port), "--fare-feed", str(FEED),
                 "--device-master-key", str(self.work / "device-master.key"),
                 "--keys-dir", str(self.work / "keys"),
                 *([] if self.worker else ["--no-worker"])],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            self.processes.append(process)
            base = f"http://127.0.0.1:{port}"
            self.bases.append(base)
            self._wait(base, process, n)

    def _wait(self, base: str, process: subprocess.Popen[bytes], n: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = (self.work / f"serve-{n}.log").read_text(errors="replace")
                raise SystemExit(f"faregate serve exited:\n{log[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit("faregate serve did not become healthy")

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def load(bases: list[str], uploads: list[Upload], concurrency: int) -> dict[str, Any]:
    """Upload every batch, each device's in order, `concurrency` in flight; spread devices
    over the servers round-robin."""
    by_device: dict[str, list[Upload]] = {}
    for upload in uploads:
        by_device.setdefault(upload.device_id, []).append(upload)
    queue: asyncio.Queue[list[Upload]] = asyncio.Queue()
    for device_uploads in by_device.values():
        queue.put_nowait(device_uploads)
    latencies: list[float] = []
    stored = 0
    # aiohttp rather than httpx for the load: on a 2-core machine the load shares the cores
    # with the servers and PostgreSQL, and httpx spent several times more CPU per request.
    sessions = [
        aiohttp.ClientSession(
            base_url=base,
            connector=aiohttp.TCPConnector(limit=concurrency),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        for base in bases
    ]

    async def worker(n: int) -> None:
        nonlocal stored
        session = sessions[n % len(sessions)]
        while not queue.empty():
            device_uploads = queue.get_nowait()
            for upload in device_uploads:
                headers = sign_request(
                    upload.secret, upload.device_id, "POST", "/device/v1/journal",
                    upload.body, at=datetime.now(UTC),
                )  # fmt: skip
                headers["Content-Type"] = "application/json"
                started = time.perf_counter()
                async with session.post(
                    "/device/v1/journal", data=upload.body, headers=headers
                ) as answer:
                    text = await answer.text()
                latencies.append(time.perf_counter() - started)
                if answer.status != 200:
                    raise SystemExit(f"upload refused: {answer.status} {text[:300]}")
                stored += int(json.loads(text)["new"])

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    finally:
        for session in sessions:
            await session.close()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "batches": len(uploads),
        "taps": stored,
        "seconds": round(elapsed, 3),
        "taps_per_s": round(stored / elapsed),
        "batch_latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
            "max": round(latencies[-1] * 1000, 1),
        },
    }


def copy_rows(uploads: list[Upload]) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    rows = []
    for upload in uploads:
        for r in json.loads(upload.body)["records"]:
            rows.append(
                (r["device_id"], r["device_seq"], int(r["credential_id"]),
                 f"acct-{int(r['credential_id']) - CREDENTIAL_BASE}",
                 datetime.fromisoformat(r["at"]), r["route_id"], r["stop_id"], r["kind"], now)
            )  # fmt: skip
    return rows


COPY_COLUMNS = ["device_id", "device_seq", "credential_id", "account_id", "at", "route_id",
                "stop_id", "kind", "received_at"]  # fmt: skip


async def copy_baseline(url: str, uploads: list[Upload]) -> dict[str, Any]:
    """The same taps by one COPY into a table like `taps` (indexes and unique key included)."""
    rows = copy_rows(uploads)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("DROP TABLE IF EXISTS taps_copy")
        await connection.execute("CREATE TABLE taps_copy (LIKE taps INCLUDING ALL)")
        started = time.perf_counter()
        await connection.copy_records_to_table("taps_copy", records=rows, columns=COPY_COLUMNS)
        elapsed = time.perf_counter() - started
        count = await connection.fetchval("SELECT count(*) FROM taps_copy")
        await connection.execute("DROP TABLE taps_copy")
    finally:
        await connection.close()
    return {"taps": int(count), "seconds": round(elapsed, 3), "taps_per_s": round(count / elapsed)}


async def empty_tables(url: str) -> int:
    """How many taps were stored; then empty the taps and what they queued for pricing."""
    connection = await asyncpg.connect(url)
    try:
        count = await connection.fetchval("SELECT count(*) FROM taps")
        queued = await connection.fetchval("SELECT to_regclass('pricing_queue') IS NOT NULL")
        await connection.execute("TRUNCATE taps" + (", pricing_queue" if queued else ""))
        return int(count)
    finally:
        await connection.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    server_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    url = asyncio.run(fresh_database(server_url))
    sqlalchemy_url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    results: dict[str, Any] = {
        "devices": args.devices, "batches_per_device": args.batches,
        "batch_size": args.batch_size, "concurrency": args.concurrency,
        "cpus": os.cpu_count(), "in_process_pricing_worker": args.worker, "runs": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="faregate-bench-ingest-") as tmp:
        work = Path(tmp)
        load_or_create_master_key(work / "device-master.key")  # shared by the servers
        # Servers sharing a database share their keys too (/healthz is 503 without any).
        init_keys(work / "keys", datetime.now(UTC))
        for count in args.servers:
            run_id = f"{count}s{secrets.token_hex(2)}"
            device_ids = [f"bench-{run_id}-{d:05d}" for d in range(args.devices)]
            servers = Servers(count, sqlalchemy_url, args.redis_url, work, worker=args.worker)
            try:
                servers.start()
                if count == args.servers[0]:
                    asyncio.run(add_riders(sqlalchemy_url))
                device_secrets = asyncio.run(
                    enrol_devices(sqlalchemy_url, servers.bases[0], device_ids)
                )
                uploads = make_uploads(
                    device_ids, device_secrets, args.batches, args.batch_size, datetime.now(UTC)
                )
                cpu_before = servers_cpu(servers)
                measured = asyncio.run(load(servers.bases, uploads, args.concurrency))
                cpu_after = servers_cpu(servers)
                # CPU time, unlike taps/s, hardly moves with what else the machine runs.
                if cpu_before is not None and cpu_after is not None:
                    cpu = cpu_after - cpu_before
                    measured["server_cpu_s"] = round(cpu, 2)
                    measured["server_cpu_us_per_tap"] = round(cpu / measured["taps"] * 1e6, 1)
            finally:
                servers.stop()
            in_table = asyncio.run(empty_tables(url))
            if in_table != len(uploads) * args.batch_size or measured["taps"] != in_table:
                raise SystemExit(f"stored {in_table} taps, acknowledged {measured['taps']}")
            results["runs"][f"{count}_server"] = measured
        results["copy"] = asyncio.run(copy_baseline(url, uploads))
    copy_rate = results["copy"]["taps_per_s"]
    for measured in results["runs"].values():
        measured["share_of_copy"] = round(measured["taps_per_s"] / copy_rate, 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="A PostgreSQL server (any database on it); the bench creates its own database.",
    )  # fmt: skip
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--batches", type=int, default=10, help="Batches per device.")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--servers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--worker", action="store_true",
        help="Keep each server's in-process pricing worker (default: ingest alone, --no-worker).",
    )  # fmt: skip
    args = parser.parse_args()
    results = run(args)
    print(json.dumps(results, indent=2))
    line = ", ".join(
        f"{name}: {r['taps_per_s']} taps/s p99 {r['batch_latency_ms']['p99']} ms "
        f"({r['share_of_copy']:.0%} of COPY, server CPU {r.get('server_cpu_us_per_tap')} us/tap)"
        for name, r in results["runs"].items()
    )
    print(f"ingest: {line}; COPY {results['copy']['taps_per_s']} taps/s")


if __name__ == "__main__":
    main()
