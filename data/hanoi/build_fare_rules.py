"""Generate the Hanoi feed's fare files from its stops, routes and the tariff below.

Writes areas.txt, stop_areas.txt, fare_products.txt and fare_leg_rules.txt next to this
script; every other file in the feed is written by hand. Run it after editing stops,
routes, stop_times or the tariff, and commit the result:

    python data/hanoi/build_fare_rules.py           # rewrite the generated files
    python data/hanoi/build_fare_rules.py --check   # exit 1 if they are out of date

The tariff and its sources are described in data/README.md.

Metro single fares (modelled). Hanoi publishes the range of each line's single fare
(2A: 8,000-15,000 VND by distance; Metro 3: 8,000 for one station to 12,000 for the whole
line) but not a station-pair table we could verify, so the pair table is modelled on the
number of stations travelled: with H the hops of the whole line and h >= 1 the hops
travelled,

    fare(h) = min_fare + 1,000 * round_half_up((h - 1) * (max_fare - min_fare) / (H - 1) / 1,000)

so one hop costs the minimum, the whole line the maximum, and the fare never falls as a
trip gets longer. Entering and leaving at the same station (h = 0) costs the minimum fare.
Every station is its own area; the line has one fare_leg_rule per ordered station pair.

Bus single fares: one flat fare per route-length band (Hanoi, from 1 November 2024); each
band is a network and has one fare_leg_rule with no areas.

Rider categories: every single-fare product has a row per category; the free categories
(Hanoi's exemptions) are priced 0, all others pay the fare. Passes are products too;
faregate_passes.txt says what each covers.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FEED_DIR = Path(__file__).resolve().parent
CURRENCY = "VND"
FARE_MEDIA_ID = "faregate_qr"
FARE_STEP = 1_000

FREE_CATEGORIES = (
    "child_under_6",
    "senior_60_plus",
    "disability",
    "meritorious",
    "poor_household",
)
PRIORITY_CATEGORY = "priority"


@dataclass(frozen=True, slots=True)
class MetroLine:
    route_id: str
    network_id: str
    name: str
    min_fare: int
    max_fare: int


METRO_LINES = (
    MetroLine("m2a", "m2a", "Metro 2A", 8_000, 15_000),
    MetroLine("m3", "m3", "Metro 3", 8_000, 12_000),
)

# network_id -> (fare, rider-facing band) for the bus tariff in force from 1 November 2024.
BUS_BANDS: dict[str, tuple[int, str]] = {
    "bus_lt15": (8_000, "route under 15 km"),
    "bus_15_25": (10_000, "route 15 km to under 25 km"),
    "bus_25_30": (12_000, "route 25 km to under 30 km"),
    "bus_30_40": (15_000, "route 30 km to under 40 km"),
    "bus_ge40": (20_000, "route 40 km or longer"),
}


@dataclass(frozen=True, slots=True)
class PassPrice:
    fare_product_id: str
    name: str
    amount: int
    rider_category_id: str = ""


METRO_PASSES = (
    PassPrice("m2a_day", "Metro 2A day pass", 30_000),
    PassPrice("m2a_month", "Metro 2A monthly pass", 200_000),
    PassPrice("m2a_month_priority", "Metro 2A monthly pass (priority)", 100_000, PRIORITY_CATEGORY),
    PassPrice("m3_day", "Metro 3 day pass", 24_000),
    PassPrice("m3_month", "Metro 3 monthly pass", 200_000),
    PassPrice("m3_month_priority", "Metro 3 monthly pass (priority)", 100_000, PRIORITY_CATEGORY),
)
BUS_MONTH_ALL_ROUTES = (280_000, 140_000)  # regular, priority
BUS_MONTH_ONE_ROUTE = (140_000, 70_000)  # regular, priority

FARE_PRODUCT_COLUMNS = (
    "fare_product_id",
    "fare_product_name",
    "rider_category_id",
    "fare_media_id",
    "amount",
    "currency",
)
FARE_LEG_RULE_COLUMNS = (
    "leg_group_id",
    "network_id",
    "from_area_id",
    "to_area_id",
    "fare_product_id",
)

Rows = list[dict[str, str]]


def read_rows(feed_dir: Path, name: str) -> Rows:
    with (feed_dir / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def area_id(stop_id: str) -> str:
    return f"a_{stop_id}"


def round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def metro_fare(line: MetroLine, hops: int, line_hops: int) -> int:
    if hops <= 1:
        return line.min_fare
    steps = round_half_up((hops - 1) * (line.max_fare - line.min_fare), (line_hops - 1) * FARE_STEP)
    return line.min_fare + steps * FARE_STEP


def station_order(feed_dir: Path, route_id: str) -> list[str]:
    """The stations of a line in running order, from its direction-0 trip in stop_times."""
    trips = [
        t["trip_id"]
        for t in read_rows(feed_dir, "trips.txt")
        if t["route_id"] == route_id and t.get("direction_id", "0") == "0"
    ]
    if not trips:
        raise ValueError(f"no direction-0 trip for route {route_id!r} in trips.txt")
    calls = [s for s in read_rows(feed_dir, "stop_times.txt") if s["trip_id"] == trips[0]]
    calls.sort(key=lambda s: int(s["stop_sequence"]))
    return [s["stop_id"] for s in calls]


def category_rows(
    product_id: str, name: str, amount: int, categories: Sequence[str]
) -> Iterable[dict[str, str]]:
    for category in categories:
        yield {
            "fare_product_id": product_id,
            "fare_product_name": name,
            "rider_category_id": category,
            "fare_media_id": FARE_MEDIA_ID,
            "amount": "0" if category in FREE_CATEGORIES else str(amount),
            "currency": CURRENCY,
        }


def pass_row(price: PassPrice) -> dict[str, str]:
    return {
        "fare_product_id": price.fare_product_id,
        "fare_product_name": price.name,
        "rider_category_id": price.rider_category_id,
        "fare_media_id": FARE_MEDIA_ID,
        "amount": str(price.amount),
        "currency": CURRENCY,
    }


def bus_passes(bus_route_ids: Sequence[str]) -> list[PassPrice]:
    regular_all, priority_all = BUS_MONTH_ALL_ROUTES
    regular_one, priority_one = BUS_MONTH_ONE_ROUTE
    passes = [
        PassPrice("bus_month_all", "Bus monthly pass, all routes", regular_all),
        PassPrice(
            "bus_month_all_priority",
            "Bus monthly pass, all routes (priority)",
            priority_all,
            PRIORITY_CATEGORY,
        ),
    ]
    for route_id in bus_route_ids:
        passes.append(
            PassPrice(f"bus_month_{route_id}", f"Bus monthly pass, route {route_id}", regular_one)
        )
        passes.append(
            PassPrice(
                f"bus_month_{route_id}_priority",
                f"Bus monthly pass, route {route_id} (priority)",
                priority_one,
                PRIORITY_CATEGORY,
            )
        )
    return passes


def build(feed_dir: Path) -> dict[str, tuple[Sequence[str], Rows]]:
    """Every generated file's name, columns and rows, derived from the hand-written files."""
    stops = read_rows(feed_dir, "stops.txt")
    categories = [c["rider_category_id"] for c in read_rows(feed_dir, "rider_categories.txt")]
    missing = sorted(set(FREE_CATEGORIES) - set(categories))
    if missing:
        raise ValueError(f"rider_categories.txt lacks the free categories {missing}")
    route_network = {
        r["route_id"]: r["network_id"] for r in read_rows(feed_dir, "route_networks.txt")
    }

    # One area per stop: metro fares are priced station to station, and bus fares ignore areas.
    areas: Rows = [{"area_id": area_id(s["stop_id"]), "area_name": s["stop_name"]} for s in stops]
    stop_areas: Rows = [{"area_id": area_id(s["stop_id"]), "stop_id": s["stop_id"]} for s in stops]

    products: Rows = []
    leg_rules: Rows = []
    for line in METRO_LINES:
        stations = station_order(feed_dir, line.route_id)
        line_hops = len(stations) - 1
        amounts = sorted({metro_fare(line, hops, line_hops) for hops in range(line_hops + 1)})
        for amount in amounts:
            products.extend(
                category_rows(
                    f"{line.network_id}_{amount}",
                    f"{line.name} single, {amount} VND",
                    amount,
                    categories,
                )
            )
        for i, origin in enumerate(stations):
            for j, destination in enumerate(stations):
                amount = metro_fare(line, abs(i - j), line_hops)
                leg_rules.append(
                    {
                        "leg_group_id": line.network_id,
                        "network_id": line.network_id,
                        "from_area_id": area_id(origin),
                        "to_area_id": area_id(destination),
                        "fare_product_id": f"{line.network_id}_{amount}",
                    }
                )
    products.extend(pass_row(p) for p in METRO_PASSES)

    for network_id, (amount, band) in BUS_BANDS.items():
        product_id = f"bus_{amount}"
        products.extend(category_rows(product_id, f"Bus single, {band}", amount, categories))
        leg_rules.append(
            {
                "leg_group_id": network_id,
                "network_id": network_id,
                "from_area_id": "",
                "to_area_id": "",
                "fare_product_id": product_id,
            }
        )
    bus_routes = [r for r, n in route_network.items() if n in BUS_BANDS]
    products.extend(pass_row(p) for p in bus_passes(bus_routes))

    return {
        "areas.txt": (("area_id", "area_name"), areas),
        "stop_areas.txt": (("area_id", "stop_id"), stop_areas),
        "fare_products.txt": (FARE_PRODUCT_COLUMNS, products),
        "fare_leg_rules.txt": (FARE_LEG_RULE_COLUMNS, leg_rules),
    }


def render(columns: Sequence[str], rows: Rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feed", type=Path, default=FEED_DIR, help="feed folder (default: here)")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the generated files are out of date"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, (columns, rows) in build(args.feed).items():
        text = render(columns, rows)
        path = args.feed / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run {Path(__file__).name}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
