"""`faregate quarantine`: taps the backend could not attribute or price, at the command line.

    faregate quarantine list --day 2026-11-24 [--status open] [--json]
    faregate quarantine resolve 17 --account acc-42 --reason "rider's old phone"
    faregate quarantine resolve 18 --write-off --reason "test gate"

`resolve` attributes a tap to an account (priced then as a late tap of its day) or writes it
off, in the audit log as done by an administrator named by the login that ran it; the same
use cases as `GET /api/v1/finance/quarantine` and `POST .../{id}/resolve`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from faregate.cli._common import administrator
from faregate.config import Settings
from faregate.database import open_database
from faregate_data import HANOI_FEED
from qr.timeutil import isoformat_z
from ticketing.fares.feed import load_feed
from ticketing.journal import QuarantinedTap, QuarantineStatus, Resolution
from ticketing.services.journal import quarantined_taps, resolve_quarantined
from ticketing.unit_of_work import UnitOfWorkFactory

T = TypeVar("T")


@click.group(name="quarantine")
def quarantine() -> None:
    """List and resolve quarantined taps (not attributable or priceable)."""


def _run(settings: Settings, work: Callable[[UnitOfWorkFactory], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = await open_database(settings)
        try:
            return await work(UnitOfWorkFactory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _json(tap: QuarantinedTap) -> dict[str, Any]:
    return {
        "id": tap.id, "device_id": tap.device_id, "device_seq": tap.device_seq,
        "credential_id": str(tap.credential_id), "at": isoformat_z(tap.at),
        "route_id": tap.route_id, "stop_id": tap.stop_id, "kind": tap.kind.value,
        "reason": tap.reason.value, "detail": tap.detail, "status": tap.status.value,
        "account_id": tap.account_id, "resolved_by": tap.resolved_by, "note": tap.note,
    }  # fmt: skip


@quarantine.command(name="list")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="The service day (YYYY-MM-DD).")  # fmt: skip
@click.option("--status", type=click.Choice([s.value for s in QuarantineStatus]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the taps as JSON.")
@click.pass_obj
def list_command(settings: Settings, day: Any, status: str | None, as_json: bool) -> None:
    """The quarantined taps of a service day."""
    wanted = None if status is None else QuarantineStatus(status)
    service_day: date = day.date()
    found = _run(settings, lambda uows: quarantined_taps(uows, service_day, status=wanted))
    if as_json:
        click.echo(json.dumps([_json(t) for t in found], indent=2))
        return
    for t in found:
        account = "" if t.account_id is None else f" {t.account_id}"
        click.echo(
            f"{t.id}\t{isoformat_z(t.at)}\t{t.device_id}#{t.device_seq}\t{t.stop_id}\t"
            f"{t.reason.value}\t{t.status.value}{account}"
        )
    if not found:
        click.echo(f"no quarantined taps on {service_day.isoformat()}")


@quarantine.command(name="resolve")
@click.argument("quarantine_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--account", "account_id", default=None, help="Attribute the tap to this account.")
@click.option("--write-off", is_flag=True, help="Write the tap off: it is never priced.")
@click.option("--reason", required=True, help="Why: kept in the audit log.")
@click.option("--fare-feed", type=click.Path(exists=True, path_type=Path), default=None,
              help="GTFS fare feed; default the shipped Hanoi feed.")  # fmt: skip
@click.pass_obj
def resolve(
    settings: Settings,
    quarantine_id: int,
    account_id: str | None,
    write_off: bool,
    reason: str,
    fare_feed: Path | None,
) -> None:
    """Attribute quarantined tap QUARANTINE_ID to --account, or --write-off it."""
    if write_off == (account_id is not None):
        raise click.UsageError("give either --account ACCOUNT or --write-off")
    resolution = Resolution.WRITE_OFF if write_off else Resolution.ATTRIBUTE
    feed = load_feed(fare_feed or HANOI_FEED)
    done = _run(
        settings,
        lambda uows: resolve_quarantined(
            uows, quarantine_id, resolution, feed=feed, who=administrator(), reason=reason,
            account_id=account_id,
        ),
    )  # fmt: skip
    click.echo(f"quarantined tap {done.id}: {done.status.value.replace('_', ' ')}"
               f"{'' if done.account_id is None else ' to ' + done.account_id}")  # fmt: skip
