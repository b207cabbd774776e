"""Benchmark: price a synthetic Hanoi service day (>= 1,000,000 taps over 100,000 accounts).

Generates, from the shipped feed (data/hanoi), one weekday of taps: metro 2A and 3 rides
(tap-in/tap-out, about 1% without tap-out), bus rides (tap-on and tap-off), riders of every
category, some holding monthly passes. Generation is not timed. Then, in one process and one run:

1. pricing alone: `price_day` per account-day;
2. pricing plus posting, on a fresh migrated SQLite file and on a fresh private PostgreSQL
   schema (`fg_bench_<hex>`, dropped afterwards): batches of account-days are priced and handed
   to `FarePricing.record_new_days` (the priced-day rows, their legs and one fare posting per
   charged day through `Ledger.post_many`), one transaction per batch. The next batch is priced
   while up to --pipeline transactions are in flight. The ledger's invariants are checked
   afterwards (not timed).

Riders are postpaid, so fares go to their receivables. Prints JSON and a one-line summary;
`to_pricing_alone_ratio` is a run's taps/s over pricing alone's in the same run.

3. the pricing worker (`worker` in the JSON): the day of --worker-accounts riders (a fifth of
   them prepaid with an overdraft allowance, pass holders with their passes recorded) stored
   through `ingest_taps` in four upload rounds (taps before 09:00, 13:00, 17:00 and the rest),
   and after each round `run_worker(once=True)` prices what the round queued, in cycles of 100
   claimed account-days as `faregate serve` does: later rounds re-price days priced before.
   Measured: the process's CPU time (event loop plus the database driver's threads) inside the
   worker, per tap stored; ingest is not timed. `--worker-only` runs this step alone (on old
   revisions too: it uses only `register_riders`, `record_pass`, `ingest_taps`, `run_worker`).

4. Fares v1 (`fares_v1` in the JSON): pricing alone on a real Fares v1 feed with transfers, the
   Caltrain feed of the tests (tests/fixtures/caltrain/caltrain_gtfs.zip; skipped, and said
   so, when absent). A generated weekday: each rider rides from a home to a work station and
   back at gates; about 40% change trains on the way (exit, re-enter within 5-20 minutes), so
   the fare engine must find the cheapest cover of the legs (one fare from the first origin
   zone to the last destination zone). Same baseline (canonical sort) and ratio as step 1.

    python bench/pricing.py [--accounts 100000] [--batch 5000] [--pipeline 2]
                            [--skip-sqlite] [--skip-postgres] [--postgres-url URL]
                            [--feed data/hanoi] [--seed 7]
                            [--v1-feed tests/fixtures/caltrain/caltrain_gtfs.zip]
                            [--v1-accounts 100000] [--skip-v1]
                            [--worker-accounts 2000] [--skip-worker] [--worker-only]

The PostgreSQL server comes from --postgres-url, else FAREGATE_BENCH_POSTGRES_URL, else the
local test server.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import itertools
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from faregate.database import upgrade
from faregate_data import HANOI_FEED
from simulators.network import load_routes
from ticketing.db.engine import create_engine
from ticketing.fares import DayPrice, FareFeed, HeldPass, load_feed, pass_validity, price_day
from ticketing.fares.journeys import canonical_taps
from ticketing.money import Money
from ticketing.riders import PassRecord, PaymentMode, RiderAccount
from ticketing.services.pricing import FarePricing, PricedAccountDay
from ticketing.services.pricing_worker import run_worker
from ticketing.services.riders import Registration, register_riders
from ticketing.services.taps import ingest_taps
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

ROOT = Path(__file__).resolve().parents[1]
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = datetime(2025, 3, 12, tzinfo=HANOI)  # a Wednesday
CALTRAIN = ROOT / "tests" / "fixtures" / "caltrain" / "caltrain_gtfs.zip"
CALTRAIN_DAY = datetime(2009, 8, 7, tzinfo=ZoneInfo("America/Los_Angeles"))  # a Friday
CALTRAIN_ROUTES = ("ct_local", "ct_limited", "ct_bullet")
TARGET_TAPS_PER_SECOND = 50_000
TARGET_POSTED_TAPS_PER_SECOND = 20_000  # pricing plus posting, on PostgreSQL
PRICING_SLICE = 250  # account-days priced between looks at the database's replies
UPLOAD_ROUNDS = (9, 13, 17)  # the worker step's rounds: taps before these hours, then the rest
PREPAID_OVERDRAFT = 30_000  # a prepaid rider's allowance: some days split wallet / receivable
INGEST_BATCH = 5_000
POSTGRES_URL_ENV = "FAREGATE_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class AccountDay:
    """One rider's taps for the day, with what pricing needs to know about the rider."""

    account_id: str
    rider_category: str
    passes: tuple[HeldPass, ...]
    taps: list[Tap]


def synthetic_day(feed: FareFeed, feed_dir: Path, accounts: int, seed: int) -> Iterator[AccountDay]:
    """A deterministic day of taps: about 10 per account (five rides)."""
    rnd = random.Random(seed)
    # rnd.choice picks by position, so the routes keep the feed's (routes.txt) order.
    position = {route_id: index for index, route_id in enumerate(feed.gtfs.routes)}
    routes = sorted(load_routes(feed_dir), key=lambda route: position[route.route_id])
    metro = [route for route in routes if route.is_metro]
    buses = [route for route in routes if not route.is_metro]
    categories = ["regular"] * 85 + ["priority"] * 8 + sorted(feed.gtfs.rider_categories)[:7]
    categories = [c for c in categories if c in feed.gtfs.rider_categories]
    # Times are shared objects: a minute grid keeps 1,000,000 taps in modest memory.
    minutes = [DAY + timedelta(hours=5, minutes=m) for m in range(19 * 60)]
    last_minute = len(minutes) - 1
    month_start = DAY.replace(day=1, hour=6)
    passes = {
        "m2a": pass_validity(feed, "m2a_month", month_start),
        "bus": pass_validity(feed, "bus_month_all", month_start),
    }
    seq = 0
    for number in range(accounts):
        account = f"acct-{number:06d}"
        category = rnd.choice(categories)
        held: tuple[HeldPass, ...] = ()
        if category == "regular" and rnd.random() < 0.05:
            held = (passes["m2a"] if rnd.random() < 0.5 else passes["bus"],)
        taps: list[Tap] = []
        clock = rnd.randrange(0, 3 * 60)
        for _ in range(6 if rnd.random() < 0.1 else 5):
            if clock >= len(minutes) - 60:
                break
            route = rnd.choice(metro) if rnd.random() < 0.6 else rnd.choice(buses)
            line = route.stops
            origin, destination = rnd.sample(range(len(line)), 2)
            ride_minutes = 3 + 2 * abs(destination - origin)
            # (device, minute, stop, kind) of each tap of the ride
            ride: list[tuple[str, int, str, TapKind]]
            if route.is_metro:
                ride = [(f"gate-{line[origin]}", clock, line[origin], TapKind.ENTRY)]
                if rnd.random() >= 0.01:
                    exit_gate = f"gate-{line[destination]}"
                    ride.append((exit_gate, clock + ride_minutes, line[destination], TapKind.EXIT))
            else:
                validator = f"bus-{route.route_id}-{number % 50}"
                ride = [
                    (validator, clock, line[origin], TapKind.BOARD),
                    (validator, clock + ride_minutes, line[destination], TapKind.ALIGHT),
                ]
            for device, minute, stop, kind in ride:
                seq += 1
                at = minutes[min(minute, last_minute)]
                taps.append(Tap(device, seq, number, account, at, route.route_id, stop, kind))
            clock += ride_minutes + rnd.randrange(20, 180)
        rnd.shuffle(taps)  # uploads arrive in any order; pricing must not care
        yield AccountDay(account, category, held, taps)


def caltrain_day(feed: FareFeed, accounts: int, seed: int) -> list[list[Tap]]:
    """Each rider's gate taps for a weekday on Caltrain: out in the morning and back in the
    evening, about 40% of trips with a change of trains on the way (about 6 taps a rider)."""
    rnd = random.Random(seed)
    stations = [stop for stop in feed.gtfs.stops if feed.zone_of(stop) is not None]
    days: list[list[Tap]] = []
    seq = 0
    for number in range(accounts):
        account = f"ct-{number:06d}"
        home, work = rnd.sample(range(len(stations)), 2)
        taps: list[Tap] = []
        for origin, destination, hour in ((home, work, 7), (work, home, 17)):
            clock = CALTRAIN_DAY + timedelta(hours=hour, minutes=rnd.randrange(0, 150))
            stops = [origin, destination]
            if abs(destination - origin) > 1 and rnd.random() < 0.4:
                low, high = sorted((origin, destination))
                stops.insert(1, rnd.randrange(low + 1, high))
            for start, end in itertools.pairwise(stops):
                route = rnd.choice(CALTRAIN_ROUTES)
                arrive = clock + timedelta(minutes=3 * abs(end - start) + 5)
                for stop, at, kind in ((start, clock, TapKind.ENTRY), (end, arrive, TapKind.EXIT)):
                    seq += 1
                    device = f"gate-{stop}"
                    taps.append(Tap(device, seq, number, account, at, route, stations[stop], kind))
                clock = arrive + timedelta(minutes=rnd.randrange(5, 21))
        rnd.shuffle(taps)
        days.append(taps)
    return days


def run_fares_v1(feed_path: Path, accounts: int, seed: int) -> dict[str, Any]:
    """Pricing alone on the Fares v1 feed's generated day, with its own sort baseline."""
    feed = load_feed(feed_path)
    days = caltrain_day(feed, accounts, seed)
    taps = sum(len(day) for day in days)
    started = time.perf_counter()
    for day in days:
        canonical_taps(day)
    baseline = time.perf_counter() - started
    journeys = charged = on_transfer = unpriced = 0
    started = time.perf_counter()
    for day in days:
        price = price_day(feed, day)
        journeys += len(price.legs)
        charged += price.total.amount
        on_transfer += sum(leg.transfer_product_id is not None for leg in price.legs)
        unpriced += len(price.unpriced_legs)
    pricing = time.perf_counter() - started
    return {
        "feed": os.path.relpath(feed_path, ROOT),
        "accounts": accounts,
        "taps": taps,
        "journeys": journeys,
        "legs_on_a_transfer": on_transfer,
        "unpriced_legs": unpriced,
        "total_charged": {"amount": charged, "currency": feed.currency},
        "pricing_seconds": round(pricing, 2),
        "baseline_sort_seconds": round(baseline, 2),
        "pricing_to_baseline_ratio": round(pricing / baseline, 1),
        "taps_per_second": round(taps / pricing),
    }


def priced_account_days(
    feed: FareFeed, days: Iterable[AccountDay]
) -> Iterator[tuple[AccountDay, DayPrice]]:
    """Price each account-day; the unit a ledger-posting stage consumes."""
    for day in days:
        yield day, price_day(feed, day.taps, rider_category=day.rider_category, passes=day.passes)


@dataclass(frozen=True, slots=True)
class PostingRun:
    """One pricing-plus-posting run: wall time, and the CPU time spent pricing within it."""

    backend: str
    taps: int
    account_days: int
    postings: int
    seconds: float
    pricing_cpu_seconds: float
    ledger_ok: bool
    peak_rss_mb: float  # the process's peak when the run ended

    @property
    def taps_per_second(self) -> float:
        return self.taps / self.seconds

    def as_json(self, pricing_alone_rate: float) -> dict[str, Any]:
        return {
            "account_days": self.account_days,
            "postings": self.postings,
            "seconds": round(self.seconds, 2),
            "pricing_cpu_seconds": round(self.pricing_cpu_seconds, 2),
            "taps_per_second": round(self.taps_per_second),
            "to_pricing_alone_ratio": round(self.taps_per_second / pricing_alone_rate, 2),
            "ledger_invariants_ok": self.ledger_ok,
            "peak_rss_mb": self.peak_rss_mb,
        }


def riders_of(days: Iterable[AccountDay], currency: str) -> dict[str, RiderAccount]:
    return {
        day.account_id: RiderAccount(
            day.account_id, day.rider_category, PaymentMode.POSTPAID_CARD, currency
        )
        for day in days
    }


async def price_and_post(
    backend: str,
    url: str,
    feed: FareFeed,
    days: Sequence[AccountDay],
    riders: dict[str, RiderAccount],
    batch: int,
    pipeline: int,
) -> PostingRun:
    """Price and record the day in batches, one transaction each, on a migrated database.

    A service overlaps the stages the same way: while up to `pipeline` transactions wait on the
    database, the event loop prices the next batch, pausing every `PRICING_SLICE` account-days
    so replies from the database are answered promptly. (A pricing thread was slower: it fights
    the event loop for the GIL.)
    """
    service_day = DAY.date()
    batches = [days[start : start + batch] for start in range(0, len(days), batch)]
    pricing_cpu = 0.0

    async def price(chunk: Sequence[AccountDay]) -> list[PricedAccountDay]:
        nonlocal pricing_cpu
        priced: list[PricedAccountDay] = []
        for start in range(0, len(chunk), PRICING_SLICE):
            started = time.thread_time()
            priced.extend(
                PricedAccountDay(riders[day.account_id], service_day, price, len(day.taps))
                for day, price in priced_account_days(feed, chunk[start : start + PRICING_SLICE])
            )
            pricing_cpu += time.thread_time() - started
            await asyncio.sleep(0)
        return priced

    async def record(priced: list[PricedAccountDay]) -> int:
        async with uow_factory() as uow:
            results = await FarePricing(uow, feed).record_new_days(priced)
            await uow.commit()
        return sum(len(result.posting_ids) for result in results)

    engine = create_engine(url)
    try:
        uow_factory = UnitOfWorkFactory(engine)
        writing: deque[asyncio.Task[int]] = deque()
        postings = 0
        started = time.perf_counter()
        for chunk in batches:
            writing.append(asyncio.create_task(record(await price(chunk))))
            if len(writing) >= pipeline:
                postings += await writing.popleft()
        postings += sum(await asyncio.gather(*writing))
        seconds = time.perf_counter() - started
        async with uow_factory() as uow:
            ledger_ok = (await uow.ledger.check_invariants()).ok
    finally:
        await engine.dispose()
    taps = sum(len(day.taps) for day in days)
    return PostingRun(
        backend, taps, len(days), postings, seconds, pricing_cpu, ledger_ok, peak_rss_mb()
    )


async def _on_server(server_url: str, statement: str) -> None:
    engine = create_engine(server_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def private_schema(server_url: str) -> AsyncIterator[str]:
    """A URL on a fresh schema of the server, migrated; the schema is dropped afterwards."""
    schema = f"fg_bench_{uuid.uuid4().hex[:16]}"
    await _on_server(server_url, f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(server_url).update_query_dict({"search_path": schema})
        rendered = url.render_as_string(hide_password=False)
        await upgrade(rendered)
        yield rendered
    finally:
        await _on_server(server_url, f'DROP SCHEMA "{schema}" CASCADE')


async def run_sqlite(
    feed: FareFeed,
    days: Sequence[AccountDay],
    riders: dict[str, RiderAccount],
    batch: int,
    pipeline: int,
) -> PostingRun:
    with tempfile.TemporaryDirectory(prefix="fg_bench_") as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await upgrade(url)
        return await price_and_post("sqlite", url, feed, days, riders, batch, pipeline)


async def run_postgres(
    server_url: str,
    feed: FareFeed,
    days: Sequence[AccountDay],
    riders: dict[str, RiderAccount],
    batch: int,
    pipeline: int,
) -> PostingRun:
    async with private_schema(server_url) as url:
        return await price_and_post("postgresql", url, feed, days, riders, batch, pipeline)


def worker_riders(days: Sequence[AccountDay], currency: str) -> list[Registration]:
    """The worker step's riders: every fifth prepaid with an overdraft allowance."""
    return [
        Registration(
            RiderAccount(
                day.account_id,
                day.rider_category,
                PaymentMode.PREPAID_WALLET if number % 5 == 0 else PaymentMode.POSTPAID_CARD,
                currency,
                overdraft_limit=PREPAID_OVERDRAFT if number % 5 == 0 else 0,
            )
        )
        for number, day in enumerate(days)
    ]


def upload_rounds(days: Sequence[AccountDay]) -> list[list[Tap]]:
    """The day's taps cut into the upload rounds of `UPLOAD_ROUNDS`, by the hour they were made."""
    rounds: list[list[Tap]] = [[] for _ in range(len(UPLOAD_ROUNDS) + 1)]
    for day in days:
        for tap in day.taps:
            rounds[sum(tap.at.hour >= hour for hour in UPLOAD_ROUNDS)].append(tap)
    return rounds


async def worker_day(
    backend: str, url: str, feed: FareFeed, days: Sequence[AccountDay]
) -> dict[str, Any]:
    """Store the day in upload rounds on a migrated database and let the pricing worker price
    each round; CPU time is counted inside the worker only."""
    engine = create_engine(url)
    at = DAY.replace(hour=4)
    try:
        uows = UnitOfWorkFactory(engine)
        await register_riders(uows, worker_riders(days, feed.currency), at=at)
        async with uows() as uow:
            for day in days:
                for number, held in enumerate(day.passes):
                    await uow.riders.record_pass(
                        PassRecord(
                            f"pass-{day.account_id}-{number}",
                            day.account_id,
                            held.fare_product_id,
                            held.valid_from,
                            held.valid_until,
                            Money(0, feed.currency),
                            at,
                        )
                    )
            await uow.commit()
        rounds: list[dict[str, Any]] = []
        for taps in upload_rounds(days):
            for start in range(0, len(taps), INGEST_BATCH):
                await ingest_taps(uows, taps[start : start + INGEST_BATCH], feed=feed)
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            totals = await run_worker(uows, feed, stop=asyncio.Event(), once=True)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            rounds.append(
                {
                    "taps": len(taps),
                    "cycles": totals.cycles,
                    "priced": totals.pricing.priced,
                    "repriced": totals.pricing.repriced,
                    "unchanged": totals.pricing.unchanged,
                    "cpu_seconds": round(cpu, 3),
                    "wall_seconds": round(wall, 3),
                }
            )
        async with uows() as uow:
            ledger_ok = (await uow.ledger.check_invariants()).ok
            # What the worker left behind, to compare revisions: every version of every
            # account-day and every ledger entry, digested.
            recorded = await uow.session.execute(
                text(
                    "SELECT account_id, service_day, version, body_hash, total_amount, "
                    "posting_id FROM priced_days"
                )
            )
            entries = await uow.session.execute(
                text("SELECT posting_id, account_code, amount FROM entries")
            )
            digest = hashlib.sha256(
                repr(sorted(map(tuple, recorded)) + sorted(map(tuple, entries))).encode()
            ).hexdigest()[:16]
            charged = await uow.session.scalar(
                text(
                    "SELECT coalesce(sum(total_amount), 0) FROM priced_days d WHERE version = "
                    "(SELECT max(version) FROM priced_days l WHERE l.account_id = d.account_id "
                    "AND l.service_day = d.service_day)"
                )
            )
    finally:
        await engine.dispose()
    taps = sum(r["taps"] for r in rounds)
    cpu = sum(r["cpu_seconds"] for r in rounds)
    return {
        "backend": backend,
        "accounts": len(days),
        "taps": taps,
        "account_days_priced": sum(r["priced"] + r["repriced"] + r["unchanged"] for r in rounds),
        "cpu_seconds": round(cpu, 2),
        "cpu_ms_per_tap": round(1000 * cpu / taps, 3),
        "wall_seconds": round(sum(r["wall_seconds"] for r in rounds), 2),
        "rounds": rounds,
        "latest_versions_charged": int(charged or 0),
        "records_and_entries_digest": digest,
        "ledger_invariants_ok": ledger_ok,
    }


async def run_worker_sqlite(feed: FareFeed, days: Sequence[AccountDay]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fg_bench_") as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await upgrade(url)
        return await worker_day("sqlite", url, feed, days)


async def run_worker_postgres(
    server_url: str, feed: FareFeed, days: Sequence[AccountDay]
) -> dict[str, Any]:
    async with private_schema(server_url) as url:
        return await worker_day("postgresql", url, feed, days)


def run_worker_step(args: argparse.Namespace, feed: FareFeed) -> list[dict[str, Any]]:
    days = list(synthetic_day(feed, args.feed, args.worker_accounts, args.seed))
    runs: list[dict[str, Any]] = []
    if not args.skip_sqlite:
        runs.append(asyncio.run(run_worker_sqlite(feed, days)))
    if not args.skip_postgres:
        runs.append(asyncio.run(run_worker_postgres(args.postgres_url, feed, days)))
    return runs


def worker_summary(runs: Sequence[dict[str, Any]]) -> str:
    return "; ".join(
        f"pricing worker on {run['backend']}: {run['taps']:,} taps in "
        f"{len(run['rounds'])} upload rounds, {run['account_days_priced']:,} account-days "
        f"priced in {run['cpu_seconds']:.2f} CPU-s = {run['cpu_ms_per_tap']:.3f} CPU-ms a tap "
        f"(ledger {'balanced' if run['ledger_invariants_ok'] else 'FAILED its checks'}, "
        f"records and entries digest {run['records_and_entries_digest']})"
        for run in runs
    )


def cpu_seconds_of(pid: int) -> float:
    """CPU seconds (user + system) a process used so far, from /proc (a server beside the
    bench: PostgreSQL's backend of a connection, localstripe); 0 if it is gone or not ours to
    see."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--feed", type=Path, default=HANOI_FEED)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--batch", type=int, default=5_000, help="account-days per transaction when posting"
    )
    parser.add_argument(
        "--pipeline", type=int, default=2, help="posting transactions in flight at once"
    )
    parser.add_argument(
        "--v1-feed", type=Path, default=CALTRAIN, help="Fares v1 feed for the v1 run"
    )
    parser.add_argument("--v1-accounts", type=int, default=100_000)
    parser.add_argument("--skip-v1", action="store_true")
    parser.add_argument("--worker-accounts", type=int, default=2_000)
    parser.add_argument("--skip-worker", action="store_true")
    parser.add_argument("--worker-only", action="store_true", help="run the worker step alone")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL),
        help=f"server for the PostgreSQL run (default: ${POSTGRES_URL_ENV} or the local one)",
    )
    args = parser.parse_args()

    feed = load_feed(args.feed)
    if args.worker_only:
        worker = run_worker_step(args, feed)
        print(json.dumps({"benchmark": "pricing", "worker": worker}, indent=2))
        print(worker_summary(worker))
        return
    started = time.perf_counter()
    days = list(synthetic_day(feed, args.feed, args.accounts, args.seed))
    generated = time.perf_counter() - started
    taps = sum(len(day.taps) for day in days)
    rss_after_generation = peak_rss_mb()
    # The generated day is long-lived input, not pricing's garbage: keep the cyclic collector
    # from rescanning a million taps while pricing (a service prices a day's taps and drops them).
    gc.collect()
    gc.freeze()

    # Baseline in the same run: only putting each account's taps in canonical order, the least
    # any order-independent pricing must do. The ratio is steadier than taps/s on a busy machine.
    started = time.perf_counter()
    for day in days:
        canonical_taps(day.taps)
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    journeys = charged = incomplete = capped = covered = 0
    for _, price in priced_account_days(feed, days):
        journeys += len(price.legs)
        charged += price.total.amount
        for leg in price.legs:
            incomplete += leg.incomplete
            capped += leg.capped
            covered += leg.pass_covered
    pricing = time.perf_counter() - started

    rate = taps / pricing
    riders = riders_of(days, feed.currency)
    runs: list[PostingRun] = []
    if not args.skip_sqlite:
        runs.append(asyncio.run(run_sqlite(feed, days, riders, args.batch, args.pipeline)))
    if not args.skip_postgres:
        runs.append(
            asyncio.run(
                run_postgres(args.postgres_url, feed, days, riders, args.batch, args.pipeline)
            )
        )

    worker = [] if args.skip_worker else run_worker_step(args, feed)
    fares_v1: dict[str, Any] | None = None
    v1_note = "skipped (--skip-v1)"
    if not args.skip_v1 and args.v1_feed.exists():
        fares_v1 = run_fares_v1(args.v1_feed, args.v1_accounts, args.seed)
    elif not args.skip_v1:
        v1_note = f"skipped: no feed at {args.v1_feed}"

    postgres = next((run for run in runs if run.backend == "postgresql"), None)
    meets = {"pricing": rate >= TARGET_TAPS_PER_SECOND}
    if postgres is not None:
        meets["posting_postgresql"] = postgres.taps_per_second >= TARGET_POSTED_TAPS_PER_SECOND
    result = {
        "benchmark": "pricing",
        "feed": str(args.feed.relative_to(ROOT) if args.feed.is_relative_to(ROOT) else args.feed),
        "accounts": args.accounts,
        "taps": taps,
        "journeys": journeys,
        "incomplete_journeys": incomplete,
        "capped_legs": capped,
        "pass_covered_legs": covered,
        "total_charged": {"amount": charged, "currency": feed.currency},
        "generation_seconds": round(generated, 2),
        "pricing_seconds": round(pricing, 2),
        "baseline_sort_seconds": round(baseline, 2),
        "pricing_to_baseline_ratio": round(pricing / baseline, 1),
        "taps_per_second": round(rate),
        "target_taps_per_second": TARGET_TAPS_PER_SECOND,
        "peak_rss_mb_after_generation": rss_after_generation,
        "posting_batch": args.batch,
        "posting_pipeline": args.pipeline,
        "pricing_and_posting": {run.backend: run.as_json(rate) for run in runs},
        "target_posted_taps_per_second": TARGET_POSTED_TAPS_PER_SECOND,
        "meets_targets": meets,
        "worker": worker,
        "fares_v1": fares_v1 if fares_v1 is not None else v1_note,
        "peak_rss_mb": peak_rss_mb(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=2))

    def verdict(met: bool, target: int) -> str:
        return f"{'meets' if met else 'MISSES'} the {target:,} target"

    print(
        f"pricing: {taps:,} taps over {args.accounts:,} accounts priced in {pricing:.2f} s = "
        f"{rate:,.0f} taps/s ({verdict(meets['pricing'], TARGET_TAPS_PER_SECOND)}); "
        f"{pricing / baseline:.1f}x the canonical-sort baseline; "
        + "".join(
            f"priced and posted on {run.backend}: {run.taps_per_second:,.0f} taps/s "
            f"({run.taps_per_second / rate:.2f}x pricing alone; ledger "
            f"{'balanced' if run.ledger_ok else 'FAILED its checks'}"
            + (
                f"; {verdict(meets['posting_postgresql'], TARGET_POSTED_TAPS_PER_SECOND)}); "
                if run is postgres
                else "); "
            )
            for run in runs
        )
        + (
            f"Fares v1 ({args.v1_feed.name}): {fares_v1['taps']:,} taps priced in "
            f"{fares_v1['pricing_seconds']:.2f} s = {fares_v1['taps_per_second']:,} taps/s, "
            f"{fares_v1['pricing_to_baseline_ratio']}x its baseline, "
            f"{fares_v1['legs_on_a_transfer']:,} legs on a transfer; "
            if fares_v1 is not None
            else f"Fares v1 {v1_note}; "
        )
        + (worker_summary(worker) + "; " if worker else "")
        + f"peak RSS {result['peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    main()
