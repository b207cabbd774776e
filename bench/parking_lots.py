"""Benchmark: parking tariff quotes/s and barrier entry+exit decisions/s with Redis occupancy.

Tariff quotes (thread CPU time, one core): random stays (up to 48 h, any time of day) on the
shipped `hanoi-car` tariff, against two baselines measured in the same run on the same stays:
- `flat`: a flat per-2-hour-turn price (ceil(minutes / 120) x 25,000), the least work any
  quote can do;
- `per_minute`: a naive walk minute by minute that finds the window of each minute and prices
  the same segments; it also cross-checks every amount against the tariff's.

Barrier decisions (wall time: SQLite commits and Redis round trips are the work): one driver
after another enters and leaves an `OfflineBarrier` (QR verified at both lanes, session
policy, a durable journal commit per event) while the lot's occupancy is counted in Redis
(atomic Lua scripts, REDIS_URL or 127.0.0.1:6379). Baselines in the same run, in interleaved
rounds (medians; the spread is printed): the same pairs without Redis; the same without fsync
per commit (not durable: a reference that shows the fsync's share); Redis's entry+exit alone;
bare durable SQLite commits and raw append+fsync on the same file system (BENCH_DIR, default
the temp dir); bare commits / 2 bound durable pairs/s (two commits per pair).

Prints one JSON object, then a one-line summary. Usage: python bench/parking_lots.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis

from parking.occupancy import Occupancy
from parking.sessions import Lot
from parking.tariff import Tariff
from parking.tariff_files import load_tariff
from qr.issue import issue_credential
from qr.keys import KeyMaterial
from qr.vectors import fixed_key_material
from simulators.barrier import OfflineBarrier

START = datetime.fromisoformat("2026-11-02T00:00+07:00")
TURN_MINUTES, TURN_PRICE = 120, 25_000


def _pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu{cpu}"
    return "unpinned"


def random_stays(count: int, seed: int = 7) -> list[tuple[datetime, datetime]]:
    rng = random.Random(seed)
    stays = []
    for _ in range(count):
        entry = START + timedelta(minutes=rng.randrange(28 * 24 * 60))
        stays.append((entry, entry + timedelta(minutes=rng.randrange(1, 48 * 60))))
    return stays


def flat_quote(entry: datetime, exit: datetime) -> int:
    minutes = -(-(exit - entry) // timedelta(minutes=1))
    return -(-minutes // TURN_MINUTES) * TURN_PRICE


def per_minute_quote(tariff: Tariff, entry: datetime, exit: datetime) -> int:
    """The hanoi-car price the slow way: each minute's window, segments priced by length."""
    day, night = tariff.rates
    zone = tariff.timezone
    total, current, length = 0, None, 0
    at = entry
    while at < exit:
        hour = at.astimezone(zone).hour
        window = day if 6 <= hour < 18 else night
        if window is not current:
            if current is not None:
                total += current.price(length * 60_000_000)
            current, length = window, 0
        length += 1
        at += timedelta(minutes=1)
    if current is not None:
        total += current.price(length * 60_000_000)
    return total


def bench_quotes(stays: list[tuple[datetime, datetime]], rounds: int) -> dict[str, object]:
    tariff = load_tariff("hanoi-car")
    # Cross-check first (stays in whole minutes, so the per-minute walk is exact).
    for entry, exit in stays[:200]:
        if per_minute_quote(tariff, entry, exit) != tariff.quote("car", entry, exit).amount:
            raise SystemExit(f"per-minute and tariff quotes differ for {entry} .. {exit}")
    slow = stays[: max(1, len(stays) // 20)]

    def rate(work: list[tuple[datetime, datetime]], price: object) -> float:
        assert callable(price)
        start = time.thread_time()
        for entry, exit in work:
            price(entry, exit)
        return len(work) / (time.thread_time() - start)

    quotes, flats, walks = [], [], []
    for _ in range(rounds):
        quotes.append(rate(stays, lambda a, b: tariff.quote("car", a, b)))
        flats.append(rate(stays, flat_quote))
        walks.append(rate(slow, lambda a, b: per_minute_quote(tariff, a, b)))
    quote_rate = statistics.median(quotes)
    return {
        "stays": len(stays),
        "rounds": rounds,
        "quote_per_s": round(quote_rate),
        "flat_baseline_per_s": round(statistics.median(flats)),
        "per_minute_baseline_per_s": round(statistics.median(walks)),
        "ratio_to_flat": round(quote_rate / statistics.median(flats), 4),
        "ratio_to_per_minute": round(quote_rate / statistics.median(walks), 2),
    }


def fsync_floor(directory: Path, writes: int) -> float:
    """Appends of one journal-sized record, each followed by fsync, per second: the floor of
    a durable commit on this file system (what one barrier decision must wait for)."""
    path = directory / "fsync-probe"
    record = b"x" * 200
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(writes):
            os.write(fd, record)
            os.fsync(fd)
        return writes / (time.perf_counter() - started)
    finally:
        os.close(fd)


def commit_floor(directory: Path, commits: int) -> float:
    """Bare SQLite commits/s of one journal-sized row, WAL with synchronous=FULL as the
    barrier's journal (one fdatasync each): the floor of a durable barrier event."""
    db = sqlite3.connect(directory / "commit-probe.sqlite", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS e (seq INTEGER PRIMARY KEY, body TEXT)")
        started = time.perf_counter()
        for _ in range(commits):
            with db:
                db.execute("INSERT INTO e (body) VALUES (?)", ("x" * 200,))
        return commits / (time.perf_counter() - started)
    finally:
        db.close()


Driver = tuple[str, datetime, str, datetime]


def make_drivers(pairs: int) -> tuple[KeyMaterial, list[Driver]]:
    keys = fixed_key_material(rotated=False)
    rng = random.Random(11)
    drivers = []
    for n in range(pairs):
        phone = issue_credential(
            keys, credential_id=50_000 + n, product="WALLET", now=START - timedelta(days=1)
        )
        entry = START + timedelta(minutes=n)
        exit = entry + timedelta(minutes=rng.randrange(5, 600))
        drivers.append((phone.token_at(entry), entry, phone.token_at(exit), exit))
    return keys, drivers


async def bench_barrier(pairs: int, rounds: int, redis_url: str) -> dict[str, object]:
    """Entry+exit pairs/s through the barrier, in interleaved rounds (medians reported):

    - `durable`: the barrier as shipped (journal commit with fsync per event);
    - `durable_with_redis`: the same, occupancy counted in Redis on entry and exit;
    - `no_fsync` (reference only, not durable): the journal without fsync per commit;
    - `redis_only`: the occupancy's entry+exit scripts alone;
    - `sqlite_commit_per_s`: bare WAL commits with fdatasync of one journal-sized row, on the
      same file system (the floor of a durable event; two per pair);
    - `fsync_per_s`: raw append+fsync of 200 bytes there (for scale: a WAL commit writes a
      4 KiB frame and takes SQLite's locks).
    """
    keys, drivers = make_drivers(pairs)
    lot = Lot(lot_id="bench-lot", tariff=load_tariff("hanoi-car"))
    client = Redis.from_url(redis_url)
    occupancy = Occupancy(client, prefix=f"faregate-bench:{uuid.uuid4().hex}:")
    await occupancy.configure(lot.lot_id, capacity=pairs + 1)
    runs: dict[str, list[float]] = {
        "durable": [], "durable_with_redis": [], "no_fsync": [], "redis_only": [],
    }  # fmt: skip
    fsyncs: list[float] = []
    commits: list[float] = []

    def collect(charge: object) -> None:
        return None

    try:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
            directory = Path(tmp)

            def barrier(name: str, durable: bool) -> OfflineBarrier:
                return OfflineBarrier(
                    name, lot, keys.keyset, keys.secure_module(),
                    directory / f"{name}.sqlite", collector=collect, clock=lambda: START,
                    durable_journal=durable,
                )  # fmt: skip

            async def through(name: str, durable: bool, counted: bool) -> float:
                lane = barrier(name, durable)
                started = time.perf_counter()
                for token_in, entry, token_out, exit in drivers:
                    room = (await occupancy.enter(lot.lot_id)).admitted if counted else True
                    if not lane.present_entry(token_in, entry, room=room).opened:
                        raise SystemExit("benchmark entry refused")
                    if not lane.present_exit(token_out, exit).opened:
                        raise SystemExit("benchmark exit refused")
                    if counted:
                        await occupancy.exit(lot.lot_id)
                elapsed = time.perf_counter() - started
                lane.close()
                return pairs / elapsed

            async def redis_alone() -> float:
                started = time.perf_counter()
                for _ in range(pairs):
                    await occupancy.enter(lot.lot_id)
                    await occupancy.exit(lot.lot_id)
                return pairs / (time.perf_counter() - started)

            await through("warm-up", True, True)
            for n in range(rounds):
                # Alternate which durable variant goes first, so neither always follows the
                # other's disk writes.
                order = [("durable", False), ("durable_with_redis", True)]
                for name, counted in order if n % 2 == 0 else order[::-1]:
                    runs[name].append(await through(f"{name}-{n}", True, counted))
                runs["no_fsync"].append(await through(f"nofsync-{n}", False, False))
                runs["redis_only"].append(await redis_alone())
                fsyncs.append(fsync_floor(directory, 2 * pairs))
                commits.append(commit_floor(directory, 2 * pairs))
            final = (await occupancy.snapshot(lot.lot_id)).occupied
    finally:
        await occupancy.forget(lot.lot_id)
        await client.aclose()
    if final != 0:
        raise SystemExit(f"occupancy ended at {final}, expected 0")
    median = {name: statistics.median(values) for name, values in runs.items()}
    fsync_rate = statistics.median(fsyncs)
    commit_rate = statistics.median(commits)
    return {
        "pairs": pairs,
        "rounds": rounds,
        "entry_exit_pairs_per_s_with_redis": round(median["durable_with_redis"], 1),
        "entry_exit_pairs_per_s_barrier_only": round(median["durable"], 1),
        "entry_exit_pairs_per_s_no_fsync_reference": round(median["no_fsync"], 1),
        "occupancy_pairs_per_s_redis_only": round(median["redis_only"], 1),
        "fsync_per_s": round(fsync_rate, 1),
        "sqlite_commit_per_s": round(commit_rate, 1),
        # Two journal commits per pair: bare commits alone allow commit_per_s / 2 pairs/s.
        "commit_bound_pairs_per_s": round(commit_rate / 2, 1),
        "ratio_with_redis_to_barrier_only": round(
            median["durable_with_redis"] / median["durable"], 3
        ),
        "ratio_barrier_only_to_no_fsync": round(median["durable"] / median["no_fsync"], 3),
        "spread_with_redis": [round(v, 1) for v in runs["durable_with_redis"]],
        "spread_barrier_only": [round(v, 1) for v in runs["durable"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--stays", type=int, default=None, help="random stays per round")
    parser.add_argument("--pairs", type=int, default=None, help="entry+exit pairs")
    parser.add_argument("--barrier-rounds", type=int, default=None, help="interleaved rounds")
    args = parser.parse_args()
    stays_n, rounds, pairs = (400, 3, 50) if args.quick else (5_000, 9, 400)
    barrier_rounds = args.barrier_rounds or (2 if args.quick else 5)
    stays_n = args.stays or stays_n
    pairs = args.pairs or pairs
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    pinned = _pin_to_one_core()
    quotes = bench_quotes(random_stays(stays_n), rounds)
    barrier = asyncio.run(bench_barrier(pairs, barrier_rounds, redis_url))
    result = {
        "benchmark": "parking",
        "python": platform.python_version(),
        "cpu": pinned,
        "tariff": "hanoi-car",
        "quotes": {"clock": "thread CPU time", **quotes},
        "barrier": {"clock": "wall time", "redis": redis_url.split("@")[-1], **barrier},
    }
    print(json.dumps(result, indent=2))
    print(
        f"parking: {quotes['quote_per_s']} quotes/s on hanoi-car "
        f"({quotes['ratio_to_per_minute']}x a per-minute walk, "
        f"{quotes['ratio_to_flat']} of a flat-rate quote); "
        f"{barrier['entry_exit_pairs_per_s_with_redis']} entry+exit pairs/s at a barrier with "
        f"Redis occupancy ({barrier['ratio_with_redis_to_barrier_only']} of barrier-only; "
        f"bare durable commits allow {barrier['commit_bound_pairs_per_s']} pairs/s, without fsync "
        f"{barrier['entry_exit_pairs_per_s_no_fsync_reference']})"
    )


if __name__ == "__main__":
    main()
