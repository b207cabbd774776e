"""`faregate fares`: Fare feed commands: quote journeys against a GTFS feed."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from faregate_data import HANOI_FEED
from qr.timeutil import require_in_range
from ticketing.fares import DayPrice, FareError, QuoteLeg, load_feed, quote, quote_journey_id
from ticketing.money import Money

_LEG_FIELDS = ("route_id", "from_stop_id", "to_stop_id", "departure")


@click.group(name="fares")
def fares() -> None:
    """Fare feed commands: quote journeys against a GTFS feed."""


@fares.command(name="quote")
@click.option(
    "--feed",
    "feed_path",
    type=click.Path(exists=True, path_type=Path),
    default=HANOI_FEED,
    show_default="the shipped Hanoi feed",
    help="GTFS feed: a folder or a zip (Fares v1 or v2, plus Faregate's extension files).",
)
@click.option(
    "--legs",
    "legs_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON list of legs {"route_id", "from_stop_id", "to_stop_id", "departure", "arrival"}.',
)
@click.option("--category", default=None, help="Rider category id (default: the feed's default).")
@click.option(
    "--media",
    "media",
    metavar="FARE_MEDIA_ID",
    default=None,
    help="Pay with this fare medium (fare_media.txt), e.g. cash or a card; default: any.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the priced day as JSON.")
def quote_command(
    feed_path: Path, legs_path: Path, category: str | None, media: str | None, as_json: bool
) -> None:
    """Price the legs in FILE as one rider's service day.

    Legs the feed cannot price are listed with their reason ("unpriced_legs" in the JSON, each
    with its 0-based index in FILE); the exit status is non-zero only when no leg is priced.
    """
    legs = _read_legs(legs_path)
    day = quote(load_feed(feed_path), legs, rider_category=category, fare_media_id=media)
    unpriced = _unpriced_by_position(day, len(legs))
    if not day.priced_any:
        reasons = "; ".join(f"leg {position + 1}: {reason}" for position, reason in unpriced)
        raise FareError(f"no leg could be priced ({reasons})")
    if as_json:
        body = day.as_json()
        body["unpriced_legs"] = [
            {"index": position, "reason": reason} for position, reason in unpriced
        ]
        click.echo(json.dumps(body, indent=2))
    else:
        _print_table(day)
        for position, reason in unpriced:
            click.echo(f"Not priced: leg {position + 1} ({quote_journey_id(position)}): {reason}")


def _unpriced_by_position(day: DayPrice, count: int) -> list[tuple[int, str]]:
    """(position in the legs file, reason) of each leg the quote could not price."""
    reasons = {leg.journey_id: leg.unpriced_reason for leg in day.legs}
    return [
        (position, reason)
        for position in range(count)
        if (reason := reasons.get(quote_journey_id(position))) is not None
    ]


def _read_legs(path: Path) -> list[QuoteLeg]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"{path.name}: not JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    except RecursionError:
        raise click.ClickException(f"{path.name}: JSON nested too deeply for legs") from None
    if not isinstance(data, list) or not data:
        raise click.ClickException(f"{path.name}: expected a non-empty JSON list of legs")
    return [_leg(path.name, number, item) for number, item in enumerate(data, start=1)]


def _leg(file: str, number: int, item: Any) -> QuoteLeg:
    where = f"{file} leg {number}"
    if not isinstance(item, dict):
        raise click.ClickException(f"{where}: expected an object")
    for field in _LEG_FIELDS:
        if not isinstance(item.get(field), str) or not item[field]:
            raise click.ClickException(f"{where}: {field} is required (a string)")
    arrival = item.get("arrival")
    if arrival is not None and not isinstance(arrival, str):
        raise click.ClickException(f"{where}: arrival must be a string")
    return QuoteLeg(
        item["route_id"],
        item["from_stop_id"],
        item["to_stop_id"],
        _instant(where, "departure", item["departure"]),
        _instant(where, "arrival", arrival) if arrival else None,
    )


def _instant(where: str, field: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f'{where}: {field} "{text}" is not an ISO 8601 time') from None
    if value.utcoffset() is None:
        raise click.ClickException(f'{where}: {field} "{text}" needs a UTC offset')
    return require_in_range(value, f"{where}: {field}")  # TimeRangeError: an `Error:` line


def _print_table(day: DayPrice) -> None:
    table = Table(title="Fare quote")
    for column in (
        "Leg",
        "Route",
        "From",
        "To",
        "Departure",
        "Product",
        "Fare",
        "Charged",
        "Notes",
    ):
        table.add_column(column, justify="right" if column in ("Fare", "Charged") else "left")
    for leg in day.legs:
        notes = [
            name
            for name, flag in (
                ("incomplete", leg.incomplete),
                ("pass", leg.pass_covered),
                ("transfer", leg.transfer_product_id is not None),
                ("joined", leg.joined),
                ("capped", leg.capped),
                ("not priced", leg.unpriced_reason is not None),
            )
            if flag
        ]
        table.add_row(
            leg.journey_id,
            leg.route_id,
            leg.from_stop_id or "?",
            leg.to_stop_id or "?",
            leg.departure.isoformat(),
            leg.fare_product_id or "",
            str(leg.undiscounted),
            str(leg.charged),
            ", ".join(notes),
        )
    console = Console(width=160)
    console.print(table)
    for cap in day.caps_applied:
        console.print(f"Cap {cap.cap_id} ({cap.period} {cap.period_start}): saved {cap.saved}")
    console.print(f"Total: {_money(day.total)}")


def _money(amount: Money) -> str:
    return f"{amount} ({amount.amount} minor units)"
