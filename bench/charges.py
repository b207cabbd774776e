"""Benchmark: the daily aggregated charge of N postpaid accounts against localstripe.

Starts a private localstripe (the shared helper), gives N accounts a customer and a saved card,
then charges each account's day once, at most `--concurrency` charges in flight (default: the
charge stage's, `charging.DEFAULT_CONCURRENCY`)
(asyncio.Semaphore). A sequential run over a few accounts in the same process is the baseline.

Reports charges/s, the speed-up over the sequential baseline, latency percentiles, and the
share of each charge's own time spent inside the gateway call (the rest is our code; waiting
for a semaphore slot is not counted). Prints JSON, then one summary line.

`--through-service` charges through `ticketing.payment_flows.service.PaymentsService` (attempt
stored before the call, outcome and ledger posting after it) on a fresh database (SQLite in a
temp directory unless `--database-url`), so the gateway share shows what our bookkeeping costs.

`--stage` measures the settlement's charge stage side by side with the gateway alone, in one
run against one localstripe (issue 19: the stage must reach 0.8x the gateway's own rate). Each
round charges every account once through the gateway alone (its own customers, at
`--concurrency`, making the calls a daily charge makes: authorise, then capture) and once
through the charge stage's charging
(`ticketing.services.charging.charge_owed`: the payments service, at most
`charging.DEFAULT_CONCURRENCY` in flight, each charge its own attempt), on a new service day;
the two alternate which goes first, so a machine that slows down or a localstripe that grows
weighs on both. Reports each side's rate per round, their medians and the ratio, and each
side's CPU per charge: this process's, localstripe's and (PostgreSQL) the server backends' of
the stage's connections, read from /proc. On a loaded machine the CPU is the steadier figure:
`cpu_ratio` is the gateway alone's CPU per charge over the stage's, the rate the stage would
reach beside the gateway alone if CPU were all they waited for.

    python bench/charges.py --accounts 500 [--concurrency 32] [--through-service]
    python bench/charges.py --stage --accounts 200 --rounds 3 [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/pricing.py's helpers

from pricing import cpu_seconds_of, private_schema

from gateways.localstripe_server import localstripe
from gateways.protocol import Payment, PaymentRequest, PaymentStatus
from gateways.stripe_gateway import StripeGateway
from ticketing.services.charging import DEFAULT_CONCURRENCY

SERVICE_DAY = "2025-03-14"
DAILY_AMOUNT_VND = 27_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Account:
    ref: str
    customer_id: str
    card_id: str


async def _enrol(gateway: StripeGateway, count: int, concurrency: int) -> list[Account]:
    slots = asyncio.Semaphore(concurrency)

    async def enrol(index: int) -> Account:
        ref = f"acct-{index:06d}"
        async with slots:
            customer = await gateway.create_customer(ref, idempotency_key=f"customer:{ref}")
            card = await gateway.save_card(
                customer.id, "pm_card_visa", idempotency_key=f"card:{ref}"
            )
        return Account(ref, customer.id, card.id)

    return list(await asyncio.gather(*(enrol(i) for i in range(count))))


async def _charge_day(gateway: StripeGateway, account: Account, day: str) -> bool:
    request = PaymentRequest(
        customer_id=account.customer_id,
        payment_method_id=account.card_id,
        amount=DAILY_AMOUNT_VND,
        currency="VND",
        idempotency_key=f"charge:{account.ref}:{day}",
        metadata={"account": account.ref, "service_day": day},
        off_session=True,
    )
    payment = await gateway.create_payment(request)
    return payment.status is PaymentStatus.SUCCEEDED


class _TimedGateway(StripeGateway):
    """Adds up the time spent inside create_payment calls, whoever makes them."""

    inside = 0.0

    async def create_payment(self, request: PaymentRequest) -> Payment:
        started = time.perf_counter()
        try:
            return await super().create_payment(request)
        finally:
            self.inside += time.perf_counter() - started


async def _run(
    gateway: _TimedGateway,
    items: Sequence[T],
    charge: Callable[[T], Awaitable[bool]],
    concurrency: int,
) -> dict[str, Any]:
    """Charge every item, at most `concurrency` at once, and summarise the run.

    A charge's own time starts once it holds a slot, so waiting for one is not counted.
    """
    slots = asyncio.Semaphore(concurrency)
    totals: list[float] = []
    gateway.inside = 0.0

    async def one(item: T) -> bool:
        async with slots:
            started = time.perf_counter()
            succeeded = await charge(item)
            totals.append(time.perf_counter() - started)
            return succeeded

    started = time.perf_counter()
    succeeded = await asyncio.gather(*(one(item) for item in items))
    wall = time.perf_counter() - started
    totals.sort()
    return {
        "charges": len(totals),
        "succeeded": sum(succeeded),
        "wall_s": round(wall, 3),
        "charges_per_s": round(len(totals) / wall, 1),
        "p50_ms": round(statistics.median(totals) * 1000, 2),
        "p99_ms": round(totals[min(len(totals) - 1, int(len(totals) * 0.99))] * 1000, 2),
        "gateway_share": round(gateway.inside / sum(totals), 4),
    }


def _report(
    path: str,
    database: str | None,
    accounts: int,
    concurrency: int,
    enrol_wall: float,
    sequential: dict[str, Any],
    concurrent: dict[str, Any],
) -> dict[str, Any]:
    head: dict[str, Any] = {"benchmark": "charges", "path": path, "gateway": "localstripe"}
    if database is not None:
        head["database"] = database
    return {
        **head,
        "accounts": accounts,
        "concurrency": concurrency,
        "enrol_s": round(enrol_wall, 3),
        "sequential_baseline": sequential,
        "concurrent": concurrent,
        "speedup_vs_sequential": round(
            concurrent["charges_per_s"] / sequential["charges_per_s"], 2
        ),
    }


async def bench_service(
    accounts: int, concurrency: int, baseline: int, state_dir: Path, database_url: str | None
) -> dict[str, Any]:
    from faregate.database import open_database
    from ticketing.money import Money
    from ticketing.payment_flows.service import PaymentsService
    from ticketing.unit_of_work import UnitOfWorkFactory

    engine = await open_database(database_url or f"sqlite+aiosqlite:///{state_dir / 'bench.db'}")
    async with (
        localstripe(state_dir / "localstripe", from_scratch=True) as server,
        _TimedGateway(server.api_key, server.base_url, timeout=30) as gateway,
    ):
        payments = PaymentsService(UnitOfWorkFactory(engine), gateway)
        refs = [f"acct-{i:06d}" for i in range(accounts)]
        enrol_started = time.perf_counter()
        for ref in refs:
            await payments.save_card(ref, "pm_card_visa")
        enrol_wall = time.perf_counter() - enrol_started

        async def charge(ref: str, day: date) -> bool:
            outcome = await payments.charge_day(ref, day, Money(DAILY_AMOUNT_VND, "VND"))
            return outcome.status.value == "succeeded"

        baseline_day, day = date(2025, 3, 13), date(2025, 3, 14)
        sequential = await _run(gateway, refs[:baseline], lambda r: charge(r, baseline_day), 1)
        concurrent = await _run(gateway, refs, lambda r: charge(r, day), concurrency)
    await engine.dispose()
    return _report(
        "payments_service",
        engine.url.get_backend_name(),
        accounts,
        concurrency,
        enrol_wall,
        sequential,
        concurrent,
    )


async def bench(accounts: int, concurrency: int, baseline: int, state_dir: Path) -> dict[str, Any]:
    async with (
        localstripe(state_dir, from_scratch=True) as server,
        _TimedGateway(server.api_key, server.base_url, timeout=30) as gateway,
    ):
        enrol_started = time.perf_counter()
        enrolled = await _enrol(gateway, accounts, concurrency)
        enrol_wall = time.perf_counter() - enrol_started

        sequential = await _run(
            gateway, enrolled[:baseline], lambda a: _charge_day(gateway, a, "baseline"), 1
        )
        concurrent = await _run(
            gateway, enrolled, lambda a: _charge_day(gateway, a, SERVICE_DAY), concurrency
        )
    return _report("gateway_only", None, accounts, concurrency, enrol_wall, sequential, concurrent)


async def _authorise_and_capture(gateway: StripeGateway, account: Account, day: date) -> bool:
    """The gateway calls a daily charge makes (`payment_flows.attempts`): authorise, then
    capture the authorisation; the gateway alone, with nothing of ours around them."""
    authorised = await gateway.create_payment(
        PaymentRequest(
            customer_id=account.customer_id,
            payment_method_id=account.card_id,
            amount=DAILY_AMOUNT_VND,
            currency="VND",
            idempotency_key=f"charge:{account.ref}:{day}",
            metadata={"account": account.ref, "service_day": day.isoformat()},
            off_session=True,
            capture_manually=True,
        )
    )
    captured = await gateway.capture_payment(
        authorised.id, idempotency_key=f"capture:{account.ref}:{day}"
    )
    return captured.status is PaymentStatus.SUCCEEDED


@dataclass
class _CpuMeter:
    """CPU used by this process, localstripe and the database backends of the stage's
    connections (PostgreSQL: each connection's server pid, noted when it opens)."""

    localstripe_pid: int
    backends: set[int]

    def read(self) -> dict[str, float]:
        return {
            "bench": time.process_time(),
            "localstripe": cpu_seconds_of(self.localstripe_pid),
            "database": sum(cpu_seconds_of(pid) for pid in self.backends),
        }

    @staticmethod
    def per_charge(
        before: dict[str, float], after: dict[str, float], count: int
    ) -> dict[str, float]:
        spent = {part: (after[part] - before[part]) * 1000 / count for part in before}
        spent["total"] = sum(spent.values())
        return {part: round(ms, 2) for part, ms in spent.items()}


async def bench_stage(
    accounts: int, concurrency: int, rounds: int, state_dir: Path, database_url: str | None
) -> dict[str, Any]:
    async with _fresh_database(database_url, state_dir) as url:
        return await _bench_stage(accounts, concurrency, rounds, state_dir, url)


@contextlib.asynccontextmanager
async def _fresh_database(database_url: str | None, state_dir: Path) -> AsyncIterator[str]:
    """SQLite in `state_dir`, or a private schema of the PostgreSQL server at `database_url`
    (dropped afterwards): the riders' gateway customers of an earlier run, in a localstripe
    long gone, must not be found there (the cards would be saved to customers the new
    localstripe does not know)."""
    if database_url is None or not database_url.startswith("postgresql"):
        yield database_url or f"sqlite+aiosqlite:///{state_dir / 'bench.db'}"
        return
    async with private_schema(database_url) as url:
        yield url


async def _bench_stage(
    accounts: int, concurrency: int, rounds: int, state_dir: Path, database_url: str
) -> dict[str, Any]:
    from sqlalchemy import event

    from faregate.database import open_database
    from ticketing.money import Money
    from ticketing.payment_flows.service import PaymentsService
    from ticketing.services.charging import charge_owed
    from ticketing.unit_of_work import UnitOfWorkFactory

    engine = await open_database(database_url)
    backends: set[int] = set()

    @event.listens_for(engine.sync_engine, "connect")
    def _note_backend(connection: Any, _record: Any) -> None:
        server_pid = getattr(connection.driver_connection, "get_server_pid", None)
        if server_pid is not None:  # asyncpg: the PostgreSQL backend serving it
            backends.add(server_pid())

    async with (
        localstripe(state_dir / "localstripe", from_scratch=True) as server,
        _TimedGateway(server.api_key, server.base_url, timeout=60) as gateway,
    ):
        meter = _CpuMeter(server.pid, backends)
        payments = PaymentsService(UnitOfWorkFactory(engine), gateway)
        refs = [f"rider-{i:06d}" for i in range(accounts)]
        slots = asyncio.Semaphore(concurrency)

        async def save(ref: str) -> None:
            async with slots:
                await payments.save_card(ref, "pm_card_visa")

        await asyncio.gather(*(save(ref) for ref in refs))
        enrolled = await _enrol(gateway, accounts, concurrency)
        owed = {ref: Money(DAILY_AMOUNT_VND, "VND") for ref in refs}

        alone_cpu: list[dict[str, float]] = []
        stage_cpu: list[dict[str, float]] = []

        async def gateway_alone(day: date) -> float:
            before = meter.read()
            result = await _run(
                gateway, enrolled, lambda a: _authorise_and_capture(gateway, a, day), concurrency
            )
            alone_cpu.append(meter.per_charge(before, meter.read(), accounts))
            return float(result["charges_per_s"])

        async def charge_stage(day: date) -> float:
            before = meter.read()
            started = time.perf_counter()
            charged = await charge_owed(payments, day, owed, concurrency=DEFAULT_CONCURRENCY)
            wall = time.perf_counter() - started
            stage_cpu.append(meter.per_charge(before, meter.read(), accounts))
            assert sum(c.outcome.status.value == "succeeded" for c in charged) == accounts
            return round(len(charged) / wall, 1)

        alone: list[float] = []
        stage: list[float] = []
        load = [os.getloadavg()[0]]
        for index in range(rounds):
            day = date(2025, 3, 1) + timedelta(days=index)
            if index % 2 == 0:
                alone.append(await gateway_alone(day))
                stage.append(await charge_stage(day))
            else:
                stage.append(await charge_stage(day))
                alone.append(await gateway_alone(day))
            load.append(os.getloadavg()[0])
    await engine.dispose()
    ratio = round(statistics.median(stage) / statistics.median(alone), 2)
    alone_ms = statistics.median(c["total"] for c in alone_cpu)
    stage_ms = statistics.median(c["total"] for c in stage_cpu)
    return {
        "benchmark": "charges",
        "path": "charge_stage_vs_gateway",
        "gateway": "localstripe",
        "database": engine.url.get_backend_name(),
        "accounts": accounts,
        "rounds": rounds,
        "gateway_concurrency": concurrency,
        "stage_concurrency": DEFAULT_CONCURRENCY,
        "gateway_alone_per_s": alone,
        "charge_stage_per_s": stage,
        "gateway_alone_median": statistics.median(alone),
        "charge_stage_median": statistics.median(stage),
        "stage_to_gateway": ratio,  # of the medians
        "per_round": [round(b / a, 2) for a, b in zip(alone, stage, strict=True)],
        "target": 0.8,
        "meets_target": ratio >= 0.8,
        "gateway_alone_cpu_ms_per_charge": alone_cpu,
        "charge_stage_cpu_ms_per_charge": stage_cpu,
        "gateway_alone_cpu_ms_median": alone_ms,
        "charge_stage_cpu_ms_median": stage_ms,
        "cpu_ratio": round(alone_ms / stage_ms, 2),
        "load_average": [round(x, 1) for x in load],
        "machine": f"{platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "python": platform.python_version(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--baseline", type=int, default=50, help="accounts charged sequentially")
    parser.add_argument("--through-service", action="store_true")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--stage", action="store_true", help="the charge stage beside the gateway alone"
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --stage: rounds of each")
    args = parser.parse_args(argv)
    baseline = min(args.baseline, args.accounts)
    if args.stage:
        with tempfile.TemporaryDirectory(prefix="faregate-bench-charges-") as state_dir:
            found = asyncio.run(
                bench_stage(
                    args.accounts, args.concurrency, args.rounds, Path(state_dir), args.database_url
                )
            )
        print(json.dumps(found, indent=2))
        print(
            f"charge stage {found['charge_stage_median']} charges/s, gateway alone "
            f"{found['gateway_alone_median']} charges/s: {found['stage_to_gateway']}x "
            f"(target 0.8x) over {args.rounds} interleaved rounds of {args.accounts} accounts; "
            f"CPU per charge {found['charge_stage_cpu_ms_median']} ms against "
            f"{found['gateway_alone_cpu_ms_median']} ms ({found['cpu_ratio']}x)"
        )
        return
    with tempfile.TemporaryDirectory(prefix="faregate-bench-charges-") as state_dir:
        if args.through_service:
            result = asyncio.run(
                bench_service(
                    args.accounts, args.concurrency, baseline, Path(state_dir), args.database_url
                )
            )
        else:
            result = asyncio.run(bench(args.accounts, args.concurrency, baseline, Path(state_dir)))
    print(json.dumps(result, indent=2))
    c = result["concurrent"]
    print(
        f"charges ({result['path']}): {c['charges_per_s']} charges/s over {c['charges']} accounts "
        f"(concurrency {args.concurrency}, {result['speedup_vs_sequential']}x sequential), "
        f"p99 {c['p99_ms']} ms, {c['gateway_share']:.0%} of charge time inside the gateway call"
    )


if __name__ == "__main__":
    main()
