"""`faregate lots`: create, list and change parking lots and their tariffs.

    faregate lots add hoan-kiem --name "Hoàn Kiếm on-street" --operator iparking-hanoi \\
        --capacity 40 --reserved 2 --tariff hanoi-car --kind on-street
    faregate lots list [--json]
    faregate lots edit hoan-kiem --capacity 45 --reason "two spaces repainted"
    faregate lots edit hoan-kiem --tariff new-prices.toml --from 2027-01-01T00:00+07:00

Each change is in the audit log, done by an administrator named by the login that ran it
(`parking.lots`, the use cases the operator API and page call too). A lot's barriers get the
change on their next sync; a new tariff comes into force at `--from` (default: now) and prices
the entries from then on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from faregate.cli._common import administrator, instant
from faregate.config import Settings
from faregate.database import open_database
from parking.errors import LotError
from parking.lots import (
    LotChanges,
    LotOverview,
    add_lot,
    edit_lot,
    lots_overview,
    read_tariff,
    replace_tariff,
)
from parking.records import LotConfig, LotKind, coordinate
from parking.tariff_files import resolve_tariff
from parking.tariff_versions import TariffVersion
from parking.unit_of_work import ParkingUnitOfWorkFactory

T = TypeVar("T")
KINDS = [kind.value for kind in LotKind]


@click.group(name="lots")
def lots() -> None:
    """Parking lots: create, list and change them and their tariffs."""


async def _run(settings: Settings, work: Callable[[ParkingUnitOfWorkFactory], Awaitable[T]]) -> T:
    engine = await open_database(settings)
    try:
        return await work(ParkingUnitOfWorkFactory(engine))
    finally:
        await engine.dispose()


def _document(tariff: str) -> tuple[str, str]:
    """A tariff file's text and its name (a path, or a shipped tariff's name)."""
    path = resolve_tariff(tariff)
    try:
        return path.read_text(encoding="utf-8"), path.name
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"cannot read the tariff {tariff}: {error}") from None


def _degrees(option: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return coordinate(text)
    except (InvalidOperation, ValueError):
        raise click.ClickException(f"{option} {text!r} is not a number of degrees") from None


def _version_json(version: TariffVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "tariff_id": version.tariff.id,
        "name": version.tariff.name,
        "digest": version.digest,
        "status": version.status,
        "effective_from": None
        if version.effective_from is None
        else version.effective_from.isoformat(),
    }


def _lot_json(lot: LotConfig) -> dict[str, Any]:
    return {
        "lot_id": lot.lot_id,
        "name": lot.name,
        "operator": lot.operator,
        "kind": lot.kind.value,
        "capacity": lot.capacity,
        "reserved": lot.reserved,
        "passback": lot.passback,
        "hold": lot.hold_amount,
        "permit_price": lot.permit_price,
        "currency": lot.currency,
        "latitude": None if lot.latitude is None else float(lot.latitude),
        "longitude": None if lot.longitude is None else float(lot.longitude),
        "address": lot.address,
    }


def _overview_json(overview: LotOverview) -> dict[str, Any]:
    return {
        **_lot_json(overview.lot),
        "open_sessions": overview.open_sessions,
        "tariff": _version_json(overview.tariff),
        "upcoming": [_version_json(v) for v in overview.upcoming],
        "updated_at": overview.updated_at.isoformat(),
    }


def _show(overviews: list[LotOverview], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([_overview_json(o) for o in overviews], indent=2, ensure_ascii=False))
        return
    table = Table(title="Parking lots")
    for column in ("lot", "name", "operator", "kind", "spaces", "open stays", "tariff", "next"):
        table.add_column(column)
    for o in overviews:
        coming = o.upcoming[0] if o.upcoming else None
        table.add_row(
            o.lot.lot_id,
            o.lot.name,
            o.lot.operator,
            o.lot.kind.value,
            f"{o.lot.capacity} ({o.lot.reserved} reserved)",
            str(o.open_sessions),
            f"v{o.tariff.version} {o.tariff.tariff.id}",
            "—"
            if coming is None or coming.effective_from is None
            else f"v{coming.version} {coming.tariff.id} from {coming.effective_from.isoformat()}",
        )
    Console(width=160).print(table)


_PLACE_OPTIONS = (
    click.option("--kind", type=click.Choice(KINDS), help="What kind of place."),
    click.option("--lat", "latitude", metavar="DEGREES", help="Latitude, WGS 84."),
    click.option("--lon", "longitude", metavar="DEGREES", help="Longitude, WGS 84."),
    click.option("--address", metavar="TEXT", help="Street address."),
    click.option(
        "--permit-price", type=click.IntRange(min=0), help="A month's permit, minor units."
    ),
    click.option("--hold", type=click.IntRange(min=0), help="Held on a prepaid wallet at entry."),
    click.option("--passback", type=click.Choice(["hard", "soft"]), help="Anti-passback mode."),
)


def _place_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_PLACE_OPTIONS):
        command = option(command)
    return command


@lots.command(name="add")
@click.argument("lot_id")
@click.option("--name", required=True, help="The lot's name, as drivers know it.")
@click.option("--operator", required=True, help="The operator's id (data/operators.toml).")
@click.option("--capacity", required=True, type=click.IntRange(min=1), help="Spaces.")
@click.option("--reserved", type=click.IntRange(min=0), default=0, show_default=True,
              help="Spaces kept for permit holders and disabled badges.")  # fmt: skip
@click.option("--tariff", required=True, metavar="TARIFF",
              help="A tariff file, or a shipped tariff (faregate parking tariffs).")  # fmt: skip
@_place_options
@click.option("--json", "as_json", is_flag=True, help="Print the lot as JSON.")
@click.pass_obj
def add_command(
    settings: Settings,
    lot_id: str,
    name: str,
    operator: str,
    capacity: int,
    reserved: int,
    tariff: str,
    kind: str | None,
    latitude: str | None,
    longitude: str | None,
    address: str | None,
    permit_price: int | None,
    hold: int | None,
    passback: str | None,
    as_json: bool,
) -> None:
    """Create a lot with its first tariff, in force from now."""
    document, source = _document(tariff)
    currency = read_tariff(document, source).currency
    lot = LotConfig(
        lot_id=lot_id,
        name=name,
        operator=operator,
        capacity=capacity,
        reserved=reserved,
        currency=currency,
        passback="soft" if passback == "soft" else "hard",
        hold_amount=hold or 0,
        kind=LotKind(kind or LotKind.CAR_PARK),
        latitude=_degrees("--lat", latitude),
        longitude=_degrees("--lon", longitude),
        address=address,
        permit_price=permit_price or 0,
    )
    by = administrator()
    asyncio.run(_run(settings, lambda uows: add_lot(uows, lot, document, by=by, source=source)))
    [created] = asyncio.run(_run(settings, lambda uows: lots_overview(uows, lot_id)))
    if as_json:
        click.echo(json.dumps(_overview_json(created), indent=2, ensure_ascii=False))
    else:
        click.echo(
            f"created lot {lot_id} ({name}): {capacity} spaces, tariff "
            f"{created.tariff.tariff.id} v{created.tariff.version} in force"
        )


@lots.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the lots as JSON.")
@click.pass_obj
def list_command(settings: Settings, as_json: bool) -> None:
    """Every lot with its tariff in force, the next one scheduled and its open stays."""
    _show(asyncio.run(_run(settings, lots_overview)), as_json)


@lots.command(name="edit")
@click.argument("lot_id")
@click.option("--name", help="A new name.")
@click.option("--operator", help="Another operator's id (data/operators.toml).")
@click.option("--capacity", type=click.IntRange(min=1), help="Spaces.")
@click.option("--reserved", type=click.IntRange(min=0), help="Spaces kept for permit holders.")
@_place_options
@click.option("--tariff", metavar="TARIFF", help="A new tariff: a file or a shipped tariff's name.")
@click.option("--from", "effective_from", metavar="ISO",
              help="When the new tariff comes into force (default: now).")  # fmt: skip
@click.option("--reason", help="Why (kept in the audit log).")
@click.option("--json", "as_json", is_flag=True, help="Print the lot as JSON.")
@click.pass_obj
def edit_command(
    settings: Settings,
    lot_id: str,
    name: str | None,
    operator: str | None,
    capacity: int | None,
    reserved: int | None,
    kind: str | None,
    latitude: str | None,
    longitude: str | None,
    address: str | None,
    permit_price: int | None,
    hold: int | None,
    passback: str | None,
    tariff: str | None,
    effective_from: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Change a lot, or schedule a new tariff for it (--tariff, --from)."""
    if effective_from is not None and tariff is None:
        raise click.ClickException("--from says when a new --tariff comes into force; give one")
    when = None if effective_from is None else instant("--from", effective_from)
    changes = LotChanges(
        name=name,
        operator=operator,
        capacity=capacity,
        reserved=reserved,
        passback=passback,
        hold_amount=hold,
        kind=kind,
        latitude=_degrees("--lat", latitude),
        longitude=_degrees("--lon", longitude),
        address=address,
        permit_price=permit_price,
    )
    if not changes.given() and tariff is None:
        raise click.ClickException("nothing to change: give an option (faregate lots edit -h)")
    document = None if tariff is None else _document(tariff)
    by = administrator()

    async def work(uows: ParkingUnitOfWorkFactory) -> list[str]:
        said = []
        if changes.given():
            await edit_lot(uows, lot_id, changes, by=by, reason=reason)
            said.append(f"changed lot {lot_id}: {', '.join(sorted(changes.given()))}")
        if document is not None:
            text, source = document
            version = await replace_tariff(uows, lot_id, text, when, by=by, source=source)
            assert version.effective_from is not None  # just scheduled
            said.append(
                f"tariff {version.tariff.id} is version {version.version} of {lot_id}, in force "
                f"from {version.effective_from.isoformat()}"
            )
        return said

    try:
        said = asyncio.run(_run(settings, work))
    except LotError as error:
        raise click.ClickException(str(error)) from None
    [edited] = asyncio.run(_run(settings, lambda uows: lots_overview(uows, lot_id)))
    if as_json:
        click.echo(json.dumps(_overview_json(edited), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(said))
