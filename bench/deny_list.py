"""Benchmark: the deny list of a city of 2 million accounts on PostgreSQL, its size and delta time.

On a fresh private PostgreSQL schema (migrated, dropped afterwards), generated in bulk with SQL:
`--accounts` rider accounts, one credential each (ids above 2**53, so they are strings on the
wire), about half of them expired (valid until 1-30 days ago), the rest valid 1-30 more days; then
`--denied` of the credentials denied over time (one ADD event each, as lost phones and debt
denials accumulate when nothing prunes the list). Then, timed through the store and service
the device routes call:

1. the whole list before pruning (entries, JSON bytes as `GET /device/v1/deny-list` sends it,
   gzip bytes, seconds to read and encode);
2. the prune (`DenyListStore.prune_expired`: the expired credentials leave, one REMOVE each);
3. the whole list after pruning (the same figures);
4. deltas a gate asks for: the last 1,000 versions (a gate a few minutes behind), and since
   the version before the prune (a gate that synced just before it), each read and encoded.

Prints JSON (sizes, seconds, peak RSS) and a one-line summary.

    python bench/deny_list.py [--accounts 2000000] [--denied 0.05] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pricing import DEFAULT_POSTGRES_URL, POSTGRES_URL_ENV, peak_rss_mb, private_schema
from sqlalchemy import text

from ticketing.db.engine import create_engine
from ticketing.unit_of_work import UnitOfWorkFactory

FIRST_ID = 2**53 + 1  # above what a double holds exactly
ACCOUNTS = """
INSERT INTO rider_accounts (id, rider_category, status, payment_mode, currency,
    overdraft_limit, debt_limit, created_at, updated_at)
SELECT 'acct-' || n, 'adult', 'active', 'prepaid_wallet', 'VND', 0, 0, now(), now()
FROM generate_series(1, :accounts) AS n
"""
# About half expired 1-30 days ago (n mod 37 below 18), the rest valid 1-30 more days.
CREDENTIALS = """
INSERT INTO credentials (credential_id, account_id, pass_id, valid_from, valid_until,
    issued_at, revoked_at, revoke_reason)
SELECT CAST(:first AS bigint) + n, 'acct-' || n, NULL, now() - interval '60 days',
    now() + (CASE WHEN n % 37 < 18 THEN -1 ELSE 1 END) * (1 + n % 30) * interval '1 day',
    now() - interval '60 days', NULL, NULL
FROM generate_series(1, :accounts) AS n
"""
# Every `step`-th credential denied, in id order: versions 1..denied.
DENIED = """
CREATE TEMPORARY TABLE bench_denied AS
SELECT row_number() OVER (ORDER BY n) AS version, CAST(:first AS bigint) + n AS credential_id
FROM generate_series(1, :accounts) AS n WHERE n % :step = 0
"""
ENTRIES = """
INSERT INTO deny_list_entries (credential_id, reason, version, denied_at)
SELECT credential_id, 'lost phone', version, now() - interval '30 days' FROM bench_denied
"""
EVENTS = """
INSERT INTO deny_list_events (version, credential_id, action, reason, at)
SELECT version, credential_id, 'add', 'lost phone', now() - interval '30 days' FROM bench_denied
"""
COUNTER = """
UPDATE counters SET value = (SELECT count(*) FROM bench_denied) WHERE name = 'deny_list_version'
"""


def _sizes(document: dict[str, Any]) -> tuple[int, int]:
    body = json.dumps(document, separators=(",", ":")).encode()
    return len(body), len(gzip.compress(body, 6))


async def _whole(uows: UnitOfWorkFactory) -> dict[str, Any]:
    started = time.perf_counter()
    async with uows() as uow:
        snapshot = await uow.deny_list.snapshot()
    document = snapshot.to_json()
    seconds = time.perf_counter() - started
    raw, zipped = _sizes(document)
    return {
        "version": snapshot.version,
        "entries": len(snapshot.ids),
        "json_bytes": raw,
        "gzip_bytes": zipped,
        "seconds": round(seconds, 3),
    }


async def _delta(uows: UnitOfWorkFactory, since: int) -> dict[str, Any]:
    started = time.perf_counter()
    async with uows() as uow:
        delta = await uow.deny_list.delta(since)
    document = {} if delta is None else delta.to_json()
    seconds = time.perf_counter() - started
    raw, zipped = _sizes(document)
    return {
        "since": since,
        "added": 0 if delta is None else len(delta.added),
        "removed": 0 if delta is None else len(delta.removed),
        "json_bytes": raw,
        "gzip_bytes": zipped,
        "seconds": round(seconds, 3),
    }


async def run(server_url: str, accounts: int, denied: float) -> dict[str, Any]:
    step = max(round(1 / denied), 1)
    result: dict[str, Any] = {"accounts": accounts, "denied_fraction": denied}
    async with private_schema(server_url) as url:
        engine = create_engine(url)
        try:
            uows = UnitOfWorkFactory(engine)
            started = time.perf_counter()
            async with uows() as uow:
                params = {"accounts": accounts, "first": FIRST_ID, "step": step}
                for statement in (ACCOUNTS, CREDENTIALS, DENIED, ENTRIES, EVENTS, COUNTER):
                    await uow.session.execute(text(statement), params)
                await uow.session.execute(text("ANALYZE"))
                await uow.commit()
            result["generate_seconds"] = round(time.perf_counter() - started, 1)
            result["before_prune"] = await _whole(uows)
            head = result["before_prune"]["version"]
            started = time.perf_counter()
            async with uows() as uow:
                pruned = await uow.deny_list.prune_expired()
                await uow.commit()
            result["prune"] = {
                "removed": pruned,
                "seconds": round(time.perf_counter() - started, 3),
            }
            result["after_prune"] = await _whole(uows)
            pruned_head = result["after_prune"]["version"]
            result["delta_recent"] = await _delta(uows, max(pruned_head - 1000, 0))
            result["delta_over_prune"] = await _delta(uows, head)
            result["peak_rss_mb"] = peak_rss_mb()
        finally:
            await engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2_000_000)
    parser.add_argument("--denied", type=float, default=0.05, help="fraction ever denied")
    parser.add_argument(
        "--postgres-url", default=os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    )
    args = parser.parse_args()
    if not 0 < args.denied <= 1:
        parser.error("--denied is a fraction in (0, 1]")
    result = asyncio.run(run(args.postgres_url, args.accounts, args.denied))
    print(json.dumps({"benchmark": "deny_list", **result}, indent=2))
    before, after = result["before_prune"], result["after_prune"]
    recent, over = result["delta_recent"], result["delta_over_prune"]
    print(
        f"deny_list: {args.accounts:,} accounts; whole list {before['entries']:,} ids "
        f"{before['json_bytes'] / 1e6:.1f} MB ({before['gzip_bytes'] / 1e6:.1f} MB gzip) before "
        f"pruning, {after['entries']:,} ids {after['json_bytes'] / 1e6:.1f} MB "
        f"({after['gzip_bytes'] / 1e6:.1f} MB gzip, {after['seconds']} s) after "
        f"({result['prune']['removed']:,} expired pruned in {result['prune']['seconds']} s); "
        f"delta of 1,000 versions {recent['seconds']} s ({recent['json_bytes']:,} B), "
        f"delta over the prune {over['seconds']} s ({over['json_bytes'] / 1e6:.1f} MB); "
        f"peak RSS {result['peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    main()
