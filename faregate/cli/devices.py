"""`faregate devices`: the device registry at the command line.

    faregate devices add gate-m2a-03-1 --kind gate --stop m2a_03          # prints the code
    faregate devices add val-bus32-7 --kind validator --route bus32 --json
    faregate devices add bar-hn-vincom-in --kind barrier --lot hn-vincom --direction entry
    faregate devices list [--kind barrier] [--lot hn-vincom] [--json]
    faregate devices revoke gate-m2a-03-1 [--reason "stolen"]

`add` registers a device bound to a place the fare feed (stops, routes) or the lots table
knows and prints its one-time enrolment code and expiry; the device exchanges the code for
its own secret at `POST /device/v1/enrol`. Running `add` again for a pending or revoked
device issues a new code; an enrolled device must be revoked first. `add` and `revoke` are in
the audit log, done by an administrator named by the login that ran them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from faregate.cli._common import administrator
from faregate.config import Settings
from faregate.database import open_database
from faregate_data import HANOI_FEED
from parking.services import device_places
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.timeutil import isoformat_z
from ticketing.devices import (
    DEFAULT_CODE_LIFETIME,
    MAX_CODE_LIFETIME,
    Binding,
    DeviceKind,
    DeviceRecord,
    Direction,
    RegistrationStatus,
)
from ticketing.fares.feed import load_feed
from ticketing.services.devices import (
    Enrolment,
    RegistryQuery,
    add_device,
    list_devices,
    revoke_device,
    station_stops,
)

T = TypeVar("T")
MAX_LIST = 100_000


@click.group(name="devices")
def devices() -> None:
    """Register, list and revoke gates, validators and barriers."""


def _run(settings: Settings, work: Callable[[ParkingUnitOfWorkFactory], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = await open_database(settings)
        try:
            return await work(ParkingUnitOfWorkFactory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _device_json(device: DeviceRecord) -> dict[str, Any]:
    binding = device.binding

    def when(at: Any) -> str | None:
        return None if at is None else isoformat_z(at)

    return {
        "device_id": device.device_id,
        "kind": binding.kind.value,
        "stop_id": binding.stop_id,
        "route_id": binding.route_id,
        "lot_id": binding.lot_id,
        "direction": None if binding.direction is None else binding.direction.value,
        "status": device.status.value,
        "generation": device.generation,
        "added_at": when(device.added_at),
        "code_expires_at": when(device.code_expires_at),
        "enrolled_at": when(device.enrolled_at),
        "revoked_at": when(device.revoked_at),
    }


feed_option = click.option(
    "--fare-feed",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="GTFS fare feed whose stops and routes devices are bound to; default the shipped "
    "Hanoi feed (the one `faregate serve` uses).",
)


@devices.command(name="add")
@click.argument("device_id")
@click.option(
    "--kind", type=click.Choice([k.value for k in DeviceKind]), required=True,
    help="gate (bound to a stop), validator (a route) or barrier (a lot).",
)  # fmt: skip
@click.option("--stop", "stop_id", default=None, help="A gate's stop id (fare feed).")
@click.option("--route", "route_id", default=None, help="A validator's route id (fare feed).")
@click.option("--lot", "lot_id", default=None, help="A barrier's lot id.")
@click.option(
    "--direction", type=click.Choice([d.value for d in Direction]), default=None,
    help="The one lane a barrier serves (default: both).",
)  # fmt: skip
@click.option(
    "--valid-hours",
    type=click.IntRange(1, int(MAX_CODE_LIFETIME.total_seconds() // 3600)),
    default=int(DEFAULT_CODE_LIFETIME.total_seconds() // 3600),
    show_default=True,
    help="How long the enrolment code works.",
)
@feed_option
@click.option("--json", "as_json", is_flag=True, help="Print the device and its code as JSON.")
@click.pass_obj
def add(
    settings: Settings,
    device_id: str,
    kind: str,
    stop_id: str | None,
    route_id: str | None,
    lot_id: str | None,
    direction: str | None,
    valid_hours: int,
    fare_feed: Path | None,
    as_json: bool,
) -> None:
    """Register DEVICE_ID at its place and print its one-time enrolment code."""
    binding = Binding(
        kind=DeviceKind(kind), stop_id=stop_id, route_id=route_id, lot_id=lot_id,
        direction=None if direction is None else Direction(direction),
    )  # fmt: skip
    feed = load_feed(fare_feed or HANOI_FEED)

    async def work(uows: ParkingUnitOfWorkFactory) -> Enrolment:
        return await add_device(
            uows, device_id, binding,
            places=await device_places(uows, feed),
            by=administrator(), valid_for=timedelta(hours=valid_hours),
        )  # fmt: skip

    enrolment = _run(settings, work)
    if as_json:
        click.echo(
            json.dumps(
                {
                    **_device_json(enrolment.device),
                    "enrolment_code": enrolment.code,
                    "expires_at": isoformat_z(enrolment.expires_at),
                },
                indent=2,
            )
        )
        return
    click.echo(f"registered {kind} {device_id} at {binding.describe()}")
    click.echo(f"enrolment code: {enrolment.code}")
    click.echo(
        f"valid once, until {isoformat_z(enrolment.expires_at)}: the device sends it to "
        "POST /device/v1/enrol for its own secret"
    )


@devices.command(name="list")
@click.option("--kind", type=click.Choice([k.value for k in DeviceKind]), default=None)
@click.option("--status", type=click.Choice([s.value for s in RegistrationStatus]), default=None)
@click.option("--station", default=None, help="Gates at this stop or its child stops.")
@click.option("--lot", default=None, help="Barriers of this lot.")
@click.option("--search", default=None, help="Devices whose id contains this text.")
@feed_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_command(
    settings: Settings,
    kind: str | None,
    status: str | None,
    station: str | None,
    lot: str | None,
    search: str | None,
    fare_feed: Path | None,
    as_json: bool,
) -> None:
    """List registered devices by id."""
    stops = None if station is None else station_stops(load_feed(fare_feed or HANOI_FEED), station)
    query = RegistryQuery(
        search=search, kind=None if kind is None else DeviceKind(kind),
        status=None if status is None else RegistrationStatus(status),
        stops=stops, lot=lot, limit=MAX_LIST,
    )  # fmt: skip
    found = _run(settings, lambda uows: list_devices(uows, query))
    if as_json:
        click.echo(json.dumps([_device_json(d) for d in found], indent=2))
        return
    if not found:
        click.echo("no devices")
        return
    for device in found:
        since = {
            RegistrationStatus.PENDING: device.code_expires_at,
            RegistrationStatus.ACTIVE: device.enrolled_at,
            RegistrationStatus.REVOKED: device.revoked_at,
        }[device.status]
        note = "" if since is None else (
            f" (code until {isoformat_z(since)})"
            if device.status is RegistrationStatus.PENDING
            else f" since {isoformat_z(since)}"
        )  # fmt: skip
        click.echo(
            f"{device.device_id}  {device.kind}  {device.binding.describe()}  {device.status}{note}"
        )


@devices.command(name="revoke")
@click.argument("device_id")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@click.pass_obj
def revoke(settings: Settings, device_id: str, reason: str | None) -> None:
    """Refuse DEVICE_ID's requests from now on, on every server (register it again to re-enrol)."""
    device, changed = _run(
        settings, lambda uows: revoke_device(uows, device_id, by=administrator(), reason=reason)
    )
    if changed:
        click.echo(f"revoked {device.device_id}")
    else:
        click.echo(f"{device.device_id} was revoked already")
