"""Benchmark: a simulated city day through the whole pipeline, as `faregate demo` runs it.

For each size (`--passengers`, default 10,000 and 100,000) the demo's day runs in this
process on a fresh data directory, its backend `faregate serve` a process of its own (SQLite,
private Redis and localstripe, as the demo's default): phones over the passenger API; gates
and validators deciding offline and journaling; their uploads over HTTP into the database;
settlement through the finance API pricing and charging the days. Faults are off unless
`--faults` says otherwise (the demo's own default is every kind, reduced).

For each size it reports:
- simulated passengers per second of wall time (the whole day, setup to closing figures);
- taps per second through the pipeline: taps made over the time of its parts (devices
  deciding and journaling, uploads over HTTP into the database, settling with pricing);
- the share of wall time in each part (`faregate.demo.stopwatch`);
- the ratio to bench/ingest.py's plain COPY of the same taps: the taps the day stored, read
  from its database and written with one asyncpg `COPY` into a table like `taps` (indexes
  and unique key included) on a private, migrated schema of the PostgreSQL server at
  `--postgres-url` (skipped with `--no-copy`).

Prints JSON, then one summary line.

    python bench/city_day.py [--passengers 10000 100000] [--seed 2026] [--faults none]
        [--postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--no-copy]
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

from pricing import DEFAULT_POSTGRES_URL, POSTGRES_URL_ENV, peak_rss_mb, private_schema
from rich.console import Console
from sqlalchemy import select

from faregate.config import Settings
from faregate.demo.runner import SEED, run_demo
from faregate.demo.stopwatch import Stopwatch
from simulators.faults import Faults
from ticketing.db.engine import create_engine
from ticketing.db.models import TapRow
from ticketing.db.types import UInt64

# The parts of the day that are the pipeline device -> HTTP -> database -> pricing.
PIPELINE = (
    "devices decide (verify, journal)",
    "devices upload (HTTP, database)",
    "settling (pricing, charges, reports)",
)
COPY_COLUMNS = ["device_id", "device_seq", "credential_id", "account_id", "at", "route_id",
                "stop_id", "kind", "step", "received_at"]  # fmt: skip


async def stored_taps(data_dir: Path) -> list[tuple[Any, ...]]:
    """The taps the day stored, as the rows COPY writes (a credential id as PostgreSQL keeps
    it: `UInt64`'s signed form)."""
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'faregate.db'}")
    table = TapRow.__table__
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(*(table.c[c] for c in COPY_COLUMNS)))).all()
    finally:
        await engine.dispose()
    signed = UInt64()
    position = COPY_COLUMNS.index("credential_id")
    return [
        tuple(
            signed.process_bind_param(value, engine.dialect) if n == position else value
            for n, value in enumerate(row)
        )
        for row in rows
    ]


async def copy_baseline(server_url: str, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The same taps by one COPY into a table like `taps`, on a private migrated schema."""
    async with private_schema(server_url) as url:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                raw = (await connection.get_raw_connection()).driver_connection
                assert raw is not None
                await raw.execute("CREATE TABLE taps_copy (LIKE taps INCLUDING ALL)")
                started = time.perf_counter()
                await raw.copy_records_to_table("taps_copy", records=rows, columns=COPY_COLUMNS)
                elapsed = time.perf_counter() - started
                count = int(await raw.fetchval("SELECT count(*) FROM taps_copy"))
        finally:
            await engine.dispose()
    return {"taps": count, "seconds": round(elapsed, 3), "taps_per_s": round(count / elapsed)}


async def one_day(passengers: int, seed: int, faults: str, work: Path) -> dict[str, Any]:
    data_dir = work / f"day-{passengers}"
    watch = Stopwatch()
    cpu = os.times()
    started = time.perf_counter()
    report = await run_demo(
        Settings(work), Console(quiet=True), passengers=passengers, seed=seed,
        data_dir=data_dir, faults=Faults.parse(faults), stopwatch=watch,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = os.times()
    figures = report.figures
    taps = int(figures["taps_made"])
    pipeline = sum(watch.seconds.get(part, 0.0) for part in PIPELINE)
    # this process and the backend processes it started and waited for
    cpu_seconds = sum(after[:4]) - sum(cpu[:4])
    return {
        "passengers": passengers,
        "taps_made": taps,
        "taps_priced": figures["taps_priced"],
        "conservation_ok": figures["conservation_ok"],
        "checks_ok": report.ok,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "passengers_per_s": round(passengers / wall, 1),
        "pipeline_seconds": round(pipeline, 1),
        "pipeline_taps_per_s": round(taps / pipeline, 1),
        "share_of_time": {
            part: round(seconds / wall, 3)
            for part, seconds in sorted(watch.seconds.items(), key=lambda item: -item[1])
        },
        "data_dir": str(data_dir),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "seed": args.seed, "faults": args.faults, "cpus": os.cpu_count(),
        "load_average_at_start": [round(n, 1) for n in os.getloadavg()], "days": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="faregate-bench-city-") as tmp:
        work = Path(tmp)
        for passengers in args.passengers:
            day = await one_day(passengers, args.seed, args.faults, work)
            if args.copy:
                day["copy"] = await copy_baseline(
                    args.postgres_url, await stored_taps(Path(day["data_dir"]))
                )
                day["pipeline_share_of_copy"] = round(
                    day["pipeline_taps_per_s"] / day["copy"]["taps_per_s"], 6
                )
            del day["data_dir"]  # gone with the temporary directory
            results["days"].append(day)
    results["load_average_at_end"] = [round(n, 1) for n in os.getloadavg()]
    results["peak_rss_mb"] = peak_rss_mb()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passengers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--faults", default="none", help="The demo's --faults (default: none; 'all' for its own)."
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL),
        help=f"PostgreSQL server for the COPY baseline (or ${POSTGRES_URL_ENV}).",
    )  # fmt: skip
    parser.add_argument(
        "--no-copy", dest="copy", action="store_false", help="Skip the COPY baseline."
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=2))
    line = "; ".join(
        f"{d['passengers']:,} passengers: {d['passengers_per_s']} passengers/s, "
        f"{d['pipeline_taps_per_s']} taps/s through the pipeline"
        + (f" ({d['pipeline_share_of_copy']:.2%} of COPY)" if "copy" in d else "")
        + f", {d['wall_seconds']} s wall"
        for d in results["days"]
    )
    print(f"city_day: {line}")


if __name__ == "__main__":
    main()
