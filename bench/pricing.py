"""Benchmark: price a synthetic Hanoi service day (>= 1,000,000 taps over 100,000 accounts).

Generates, from the shipped feed (data/hanoi), one weekday of taps: metro 2A and 3 rides
(tap-in/tap-out, about 1% without tap-out), bus rides (tap-on), riders of every category, some
holding monthly passes. Generation is not timed; pricing alone is (`price_day` per account-day,
one process). Prints JSON and a one-line summary.

    python bench/pricing.py [--accounts 100000] [--feed data/hanoi] [--seed 7]

`priced_account_days` yields (AccountDay, DayPrice) so a later stage can post each priced day to
the ledger and time pricing plus posting.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import random
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ticketing.fares import DayPrice, FareFeed, HeldPass, load_feed, pass_validity, price_day
from ticketing.journeys import canonical_taps
from ticketing.taps import Tap, TapKind

ROOT = Path(__file__).resolve().parents[1]
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = datetime(2025, 3, 12, tzinfo=HANOI)  # a Wednesday
TARGET_TAPS_PER_SECOND = 50_000


@dataclass(frozen=True, slots=True)
class AccountDay:
    """One rider's taps for the day, with what pricing needs to know about the rider."""

    account_id: str
    rider_category: str
    passes: tuple[HeldPass, ...]
    taps: list[Tap]


def route_stops(feed_dir: Path) -> dict[str, list[str]]:
    """Each route's stops in order, from trips.txt and stop_times.txt."""
    with (feed_dir / "trips.txt").open(encoding="utf-8", newline="") as f:
        route_of_trip = {row["trip_id"]: row["route_id"] for row in csv.DictReader(f)}
    stops: dict[str, list[tuple[int, str]]] = defaultdict(list)
    with (feed_dir / "stop_times.txt").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            route = route_of_trip[row["trip_id"]]
            stop = (int(row["stop_sequence"]), row["stop_id"])
            if stop not in stops[route]:
                stops[route].append(stop)
    return {route: [stop for _, stop in sorted(seq)] for route, seq in stops.items()}


def synthetic_day(feed: FareFeed, feed_dir: Path, accounts: int, seed: int) -> Iterator[AccountDay]:
    """A deterministic day of taps: about 10 per account (five rides)."""
    rnd = random.Random(seed)
    stops = route_stops(feed_dir)
    metro = [r for r in ("m2a", "m3") if r in stops]
    buses = [r for r in stops if r not in metro]
    categories = ["regular"] * 85 + ["priority"] * 8 + sorted(feed.gtfs.rider_categories)[:7]
    categories = [c for c in categories if c in feed.gtfs.rider_categories]
    # Times are shared objects: a minute grid keeps 1,000,000 taps in modest memory.
    minutes = [DAY + timedelta(hours=5, minutes=m) for m in range(19 * 60)]
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
            line = stops[route]
            origin, destination = rnd.sample(range(len(line)), 2)
            ride_minutes = 3 + 2 * abs(destination - origin)
            seq += 1
            if route in metro:
                taps.append(
                    Tap(
                        f"gate-{line[origin]}",
                        seq,
                        number,
                        account,
                        minutes[clock],
                        route,
                        line[origin],
                        TapKind.ENTRY,
                    )
                )
                if rnd.random() >= 0.01:
                    seq += 1
                    taps.append(
                        Tap(
                            f"gate-{line[destination]}",
                            seq,
                            number,
                            account,
                            minutes[min(clock + ride_minutes, len(minutes) - 1)],
                            route,
                            line[destination],
                            TapKind.EXIT,
                        )
                    )
            else:
                taps.append(
                    Tap(
                        f"bus-{route}-{number % 50}",
                        seq,
                        number,
                        account,
                        minutes[clock],
                        route,
                        line[origin],
                        TapKind.BOARD,
                    )
                )
                seq += 1
                taps.append(
                    Tap(
                        f"bus-{route}-{number % 50}",
                        seq,
                        number,
                        account,
                        minutes[min(clock + ride_minutes, len(minutes) - 1)],
                        route,
                        line[destination],
                        TapKind.ALIGHT,
                    )
                )
            clock += ride_minutes + rnd.randrange(20, 180)
        rnd.shuffle(taps)  # uploads arrive in any order; pricing must not care
        yield AccountDay(account, category, held, taps)


def priced_account_days(
    feed: FareFeed, days: Iterable[AccountDay]
) -> Iterator[tuple[AccountDay, DayPrice]]:
    """Price each account-day; the unit a ledger-posting stage consumes."""
    for day in days:
        yield day, price_day(feed, day.taps, rider_category=day.rider_category, passes=day.passes)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--feed", type=Path, default=ROOT / "data" / "hanoi")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    feed = load_feed(args.feed)
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
        "peak_rss_mb": peak_rss_mb(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=2))
    verdict = "meets" if rate >= TARGET_TAPS_PER_SECOND else "MISSES"
    print(
        f"pricing: {taps:,} taps over {args.accounts:,} accounts priced in {pricing:.2f} s = "
        f"{rate:,.0f} taps/s ({verdict} the {TARGET_TAPS_PER_SECOND:,} target); "
        f"{pricing / baseline:.1f}x the canonical-sort baseline; "
        f"peak RSS {result['peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    main()
