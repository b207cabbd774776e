"""Two `faregate serve` processes and two `faregate worker` processes on one PostgreSQL and one
Redis ingest and price a stream of uploads with every tap priced exactly once.

Devices upload signed batches over HTTP, spread over both servers, and some batches are sent
again to the other server (as after a lost answer). Pricing happens only in the two worker
processes (`serve --no-worker`). At the end: the queue is empty, every account-day has a
price whose tap count is exactly the taps stored for it, each rider owes exactly one fare a
day, and the ledger's invariants hold."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from faregate.cli.worker import READY
from gateways.localstripe_server import LocalStripe
from qr.keys import init_keys
from simulators.device_client import sign_request
from tests.helpers.api import (
    FEED,
    LOCAL_REDIS,
    MASTER_KEY,
    free_port,
    server_environment,
    wait_healthy,
)
from tests.helpers.devices import enrolled_client
from tests.helpers.devices import gate as gate_at
from tests.helpers.http import loopback
from tests.helpers.waiting import until
from ticketing.db.models import PricedDayRow, TapRow
from ticketing.ledger import accounts
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.unit_of_work import UnitOfWorkFactory

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_backend", ["postgresql"])]

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# Recent days: the server quarantines taps far from its clock.
DAYS = tuple(datetime.now(HANOI).date() - timedelta(days=n) for n in (3, 2))
FARE = 15_000  # m2a_01 -> m2a_12
RIDERS = 24
FAREGATE = [sys.executable, "-m", "faregate"]


@pytest.fixture
def processes(tmp_path: Path, db_url: str, localstripe_server: LocalStripe) -> Iterator[list[str]]:
    """Two servers (no in-process worker) and two workers; the servers' base URLs."""
    env = server_environment(db_url, localstripe_server) | {"REDIS_URL": LOCAL_REDIS}
    master = tmp_path / "device-master.key"
    master.write_text(MASTER_KEY.hex())
    started: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for n in range(2):
            data_dir = tmp_path / f"serve-{n}"
            init_keys(data_dir / "keys", datetime.now(UTC) - timedelta(days=1))
            port = free_port()
            process = subprocess.Popen(
                [
                    *FAREGATE,
                    "--data-dir",
                    str(data_dir),
                    "serve",
                    "--port",
                    str(port),
                    "--fare-feed",
                    str(FEED),
                    "--device-master-key",
                    str(master),
                    "--no-worker",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            started.append(process)
            bases.append(f"http://127.0.0.1:{port}")
            wait_healthy(bases[-1], process)
        for n in range(2):
            started.append(
                subprocess.Popen(
                    [
                        *FAREGATE,
                        "--data-dir",
                        str(tmp_path / f"worker-{n}"),
                        "worker",
                        "--poll",
                        "0.05",
                        "--batch",
                        "4",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        for worker in started[2:]:
            # Until then a SIGTERM at the end would kill it (-15) instead of stopping it.
            assert worker.stderr is not None
            said = [worker.stderr.readline().decode().strip()]
            while said[-1] != READY and said[-1]:
                said.append(worker.stderr.readline().decode().strip())
            assert said[-1] == READY, said
        yield bases
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for process in started:
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""


async def add_riders(uows: UnitOfWorkFactory) -> dict[str, int]:
    """Riders with one credential each: their credential ids by account."""
    now = datetime.now(UTC)
    registrations = []
    for _ in range(RIDERS):
        account = RiderAccount(
            "acc-" + secrets.token_hex(6), "regular", PaymentMode.POSTPAID_CARD, "VND"
        )
        credential = CredentialRecord(
            secrets.randbits(63), account.id, now, now + timedelta(days=365), now
        )
        registrations.append(Registration(account, [credential]))
    await register_riders(uows, registrations, at=now)
    return {r.account.id: r.credentials[0].credential_id for r in registrations}


def journal(device: str, first_seq: int, taps: list[tuple[int, datetime, str, str]]) -> bytes:
    records = [
        {
            "device_id": device,
            "device_seq": first_seq + n,
            "credential_id": str(credential),
            "at": at.isoformat(),
            "route_id": "m2a",
            "stop_id": stop,
            "kind": kind,
        }
        for n, (credential, at, stop, kind) in enumerate(taps)
    ]
    return json.dumps({"records": records}).encode()


async def upload(
    http: httpx.AsyncClient, base: str, device: str, secret: bytes, body: bytes
) -> int:
    headers = sign_request(
        secret,
        device,
        "POST",
        "/device/v1/journal",
        body,
        at=datetime.now(UTC),
    )
    answer = await http.post(f"{base}/device/v1/journal", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["new"])


async def test_two_servers_and_two_workers_price_every_tap_exactly_once(
    processes: list[str], uow_factory: UnitOfWorkFactory
) -> None:
    credential_of = await add_riders(uow_factory)
    riders = list(credential_of)
    entry_gate, exit_gate = f"gate-in-{secrets.token_hex(3)}", f"gate-out-{secrets.token_hex(3)}"
    seqs = {entry_gate: 1, exit_gate: 1}
    stored = 0
    sent = 0
    async with loopback(timeout=60) as http:
        # Each gate enrols at one server; both servers verify it (the registry is shared).
        secrets_of = {
            gate_id: (
                await enrolled_client(
                    uow_factory,
                    processes[n],
                    gate_id,
                    gate_at(stop),
                    http=http,
                    since=datetime.combine(DAYS[0], time(0, 0), HANOI),  # before its records
                )
            ).secret
            for n, (gate_id, stop) in enumerate(((entry_gate, "m2a_01"), (exit_gate, "m2a_12")))
        }
        uploads = []
        for day in DAYS:
            for start in range(0, RIDERS, 4):
                group = riders[start : start + 4]
                at = datetime.combine(day, time(7, 30), HANOI)
                for gate, stop, kind, when in (
                    (entry_gate, "m2a_01", "entry", at),
                    (exit_gate, "m2a_12", "exit", at + timedelta(minutes=25)),
                ):
                    body = journal(
                        gate, seqs[gate], [(credential_of[r], when, stop, kind) for r in group]
                    )
                    seqs[gate] += len(group)
                    sent += len(group)
                    uploads.append((gate, body))

        # Each device's batches in order, the two devices at once, alternating servers; every
        # third batch is sent again to the other server (a resend after a lost answer).
        async def device_stream(gate: str) -> int:
            new = 0
            mine = [body for g, body in uploads if g == gate]
            for n, body in enumerate(mine):
                secret = secrets_of[gate]
                new += await upload(http, processes[n % 2], gate, secret, body)
                if n % 3 == 0:
                    assert await upload(http, processes[(n + 1) % 2], gate, secret, body) == 0
            return new

        stored = sum(await asyncio.gather(device_stream(entry_gate), device_stream(exit_gate)))
    assert stored == sent == 2 * RIDERS * len(DAYS)

    async def queue_empty() -> bool:
        async with uow_factory() as uow:
            return await uow.pricing_queue.count() == 0

    await until(queue_empty, "the workers empty the pricing queue", within=120)

    async with uow_factory() as uow:
        taps = await uow.session.scalar(select(func.count()).select_from(TapRow))
        latest = await uow.session.execute(
            select(
                PricedDayRow.account_id,
                PricedDayRow.service_day,
                func.max(PricedDayRow.version),
            ).group_by(PricedDayRow.account_id, PricedDayRow.service_day)
        )
        versions = {(a, d): v for a, d, v in latest}
        counts = {
            (a, d): n
            for a, d, v, n in await uow.session.execute(
                select(
                    PricedDayRow.account_id,
                    PricedDayRow.service_day,
                    PricedDayRow.version,
                    PricedDayRow.tap_count,
                )
            )
            if versions[(a, d)] == v
        }
        receivable = await uow.ledger.accounts([accounts.receivable(r) for r in riders])
        report = await uow.ledger.check_invariants()
    assert taps == sent
    assert set(versions) == {(r, d) for r in riders for d in DAYS}
    # Every tap is in exactly one current price: each day's latest pricing saw both its taps.
    assert set(counts.values()) == {2}
    assert sum(counts.values()) == taps
    # One fare per rider per day, however many times a day was priced on the way.
    assert {state.normal_balance.amount for state in receivable.values()} == {FARE * len(DAYS)}
    assert report.ok, report
