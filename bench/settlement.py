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

Prints JSON (seconds per stage, peak RSS) and a one-line summary. Target: the 1 M day settles
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
    peak_rss_mb,
    price_and_post,
    private_schema,
    riders_of,
    synthetic_day,
)
from sqlalchemy import text

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


async def run_size(server_url: str, accounts: int, seed: int) -> dict[str, Any]:
    feed = load_feed(HANOI_FEED)
    days = list(synthetic_day(feed, HANOI_FEED, accounts, seed))
    taps = [tap for day in days for tap in day.taps]
    riders = riders_of(days, feed.currency)
    result: dict[str, Any] = {"accounts": accounts, "taps": len(taps)}
    async with private_schema(server_url) as url:
        engine = create_engine(url)
        try:
            uows = UnitOfWorkFactory(engine)
            started = time.perf_counter()
            for start in range(0, len(taps), INGEST_BATCH):
                async with uows() as uow:
                    await uow.taps.ingest(taps[start : start + INGEST_BATCH])
                    await uow.commit()
            result["ingest_seconds"] = round(time.perf_counter() - started, 2)
            priced = await price_and_post("postgresql", url, feed, days, riders, 5_000, 2)
            result["pricing_seconds"] = round(priced.seconds, 2)
            # The gateway step stands in as done: every priced day's charge collected (not timed).
            async with uows() as uow:
                await uow.session.execute(text(CHARGED))
                await uow.commit()
            stages: dict[str, float] = {}
            mark = time.perf_counter()

            def after(stage: str) -> None:
                nonlocal mark
                now = time.perf_counter()
                stages[stage] = round(now - mark, 2)
                mark = now

            with tempfile.TemporaryDirectory(prefix="fg_settle_") as reports:
                started = time.perf_counter()
                outcome = await settle(
                    uows,
                    feed,
                    DAY.date(),
                    who=Actor.administrator("bench"),
                    report_dir=Path(reports),
                    after_stage=after,
                )
                settled = time.perf_counter() - started
            summary = outcome.summary
            result.update(
                settle_seconds=round(settled, 2),
                stages=stages,
                gateway="excluded (no gateway: charge and reconcile are checkpoints only)",
                account_days=summary.account_days,
                collected=summary.collected.amount,
                control_ok=summary.control_ok,
                exceptions=summary.exceptions,
                peak_rss_mb=peak_rss_mb(),
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
        + "; ".join(f"{r['taps']:,} taps settled in {r['settle_seconds']} s" for r in runs)
        + f"; peak RSS {largest['peak_rss_mb']} MB; target < {TARGET_SECONDS:.0f} s: {verdict}"
    )


if __name__ == "__main__":
    main()
