"""Benchmark: settle a synthetic Hanoi service day end to end on PostgreSQL.

The day comes from bench/pricing.py's generator (about 10 taps per account): by default
1,000,000 taps over 100,000 accounts, and the same at 250 k and 500 k taps so the growth is
visible. For each size, on a fresh private PostgreSQL schema (dropped afterwards):

1. ingest: the taps stored in batches through the tap store (timed);
2. pricing: the account-days priced and posted as at ingest, bench/pricing.py's
   `price_and_post` (timed, reported apart: it is pricing, not settlement);
3. the gateway step stands in as done (not timed): a succeeded daily charge row for every
   priced day, so that everything is collected and apportioned;
4. settle: `ticketing.services.settlement.settle` for the day, each stage timed (close, price =
   the pending check and the pinning of versions, charge, reconcile, apportioned = a
   checkpoint, reported = the SQL aggregates, the pool rules, the reports and the digest).
   The gateway step is excluded: no gateway is given, so the charge and reconcile stages are
   checkpoints only (their cost is the gateway's round trips, left out of the target).

Prints JSON (seconds per stage, peak RSS, and CPU seconds: this process's per phase and stage,
and the PostgreSQL backends' of the bench's connections over the settle step, read from /proc)
and a one-line summary; each phase's end goes to stderr as it comes, so a long run shows where
it is. On a loaded machine the CPU figures are the steadier ones. Target: the 1 M day settles
in under 2 minutes.

    python bench/settlement.py [--accounts 25000,50000,100000] [--postgres-url URL] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pricing import (
    DAY,
    DEFAULT_POSTGRES_URL,
    POSTGRES_URL_ENV,
    cpu_seconds_of,
    peak_rss_mb,
    price_and_post,
    private_schema,
    riders_of,
    synthetic_day,
)
from sqlalchemy import event, text

from faregate_data import HANOI_FEED
from ticketing.audit import Actor
from ticketing.db.engine import create_engine
from ticketing.fares import load_feed
from ticketing.services.settlement import settle
from ticketing.unit_of_work import UnitOfWorkFactory

INGEST_BATCH = 20_000
CHARGED = """
INSERT INTO payment_attempts (id, purpose, account_id, service_day, charge_key, amount, currency,
    status, gateway_calls, created_at, updated_at)
SELECT 'charge:' || account_id || ':' || service_day, 'daily_charge', account_id, service_day,
    'charge:' || account_id || ':' || service_day, total_amount, currency, 'succeeded', 1,
    now(), now()
FROM priced_days WHERE total_amount > 0
"""
TARGET_SECONDS = 120.0


def _phase(name: str, started: float, cpu_started: float) -> tuple[float, float]:
    """(wall, CPU) seconds since the marks, told on stderr as it ends."""
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"  {name}: {wall:.1f} s, {cpu:.1f} s CPU", file=sys.stderr, flush=True)
    return round(wall, 2), round(cpu, 2)


async def run_size(server_url: str, accounts: int, seed: int) -> dict[str, Any]:
    feed = load_feed(HANOI_FEED)
    cpu = time.process_time()
    days = list(synthetic_day(feed, HANOI_FEED, accounts, seed))
    taps = [tap for day in days for tap in day.taps]
    riders = riders_of(days, feed.currency)
    print(f"{len(taps):,} taps over {accounts:,} accounts", file=sys.stderr)
    result: dict[str, Any] = {"accounts": accounts, "taps": len(taps)}
    result["generate_cpu_seconds"] = round(time.process_time() - cpu, 2)
    async with private_schema(server_url) as url:
        engine = create_engine(url)
        backends: set[int] = set()

        @event.listens_for(engine.sync_engine, "connect")
        def _note_backend(connection: Any, _record: Any) -> None:
            backends.add(connection.driver_connection.get_server_pid())

        try:
            uows = UnitOfWorkFactory(engine)
            started, cpu = time.perf_counter(), time.process_time()
            for start in range(0, len(taps), INGEST_BATCH):
                async with uows() as uow:
                    await uow.taps.ingest(taps[start : start + INGEST_BATCH])
                    await uow.commit()
            result["ingest_seconds"], result["ingest_cpu_seconds"] = _phase("ingest", started, cpu)
            started, cpu = time.perf_counter(), time.process_time()
            priced = await price_and_post("postgresql", url, feed, days, riders, 5_000, 2)
            result["pricing_seconds"] = round(priced.seconds, 2)
            result["pricing_cpu_seconds"] = _phase("pricing", started, cpu)[1]
            # The gateway step stands in as done: every priced day's charge collected (not timed).
            async with uows() as uow:
                await uow.session.execute(text(CHARGED))
                await uow.commit()
            stages: dict[str, float] = {}
            stages_cpu: dict[str, float] = {}
            mark, cpu_mark = time.perf_counter(), time.process_time()

            def after(stage: str) -> None:
                nonlocal mark, cpu_mark
                stages[stage], stages_cpu[stage] = _phase(stage, mark, cpu_mark)
                mark, cpu_mark = time.perf_counter(), time.process_time()

            database_cpu = sum(cpu_seconds_of(pid) for pid in backends)
            with tempfile.TemporaryDirectory(prefix="fg_settle_") as reports:
                started, cpu = time.perf_counter(), time.process_time()
                outcome = await settle(
                    uows,
                    feed,
                    DAY.date(),
                    who=Actor.administrator("bench"),
                    report_dir=Path(reports),
                    after_stage=after,
                )
                settled = time.perf_counter() - started
                settled_cpu = time.process_time() - cpu
                # backends opened during the step are counted whole; those closed in it, not
                database_cpu = sum(cpu_seconds_of(pid) for pid in backends) - database_cpu
            summary = outcome.summary
            result.update(
                settle_seconds=round(settled, 2),
                settle_cpu_seconds=round(settled_cpu, 2),
                settle_database_cpu_seconds=round(database_cpu, 2),
                stages=stages,
                stages_cpu=stages_cpu,
                gateway="excluded (no gateway: charge and reconcile are checkpoints only)",
                account_days=summary.account_days,
                collected=summary.collected.amount,
                control_ok=summary.control_ok,
                exceptions=summary.exceptions,
                peak_rss_mb=peak_rss_mb(),
                load_average=round(os.getloadavg()[0], 1),
            )
        finally:
            await engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", default="25000,50000,100000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres-url", default=os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.accounts.split(",")]
    runs = [asyncio.run(run_size(args.postgres_url, n, args.seed)) for n in sizes]
    print(json.dumps({"benchmark": "settlement", "runs": runs}, indent=2))
    largest = runs[-1]
    verdict = "OK" if largest["settle_seconds"] < TARGET_SECONDS else "SLOW"
    print(
        "settlement: "
        + "; ".join(
            f"{r['taps']:,} taps settled in {r['settle_seconds']} s "
            f"({r['settle_cpu_seconds']} s CPU here, {r['settle_database_cpu_seconds']} s in the "
            f"database, load {r['load_average']})"
            for r in runs
        )
        + f"; peak RSS {largest['peak_rss_mb']} MB; target < {TARGET_SECONDS:.0f} s: {verdict}"
    )


if __name__ == "__main__":
    main()
