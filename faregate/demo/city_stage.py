"""Demo stage 2: a seeded city day on the Hanoi network, from phones to the ledger.

The backend issues credentials to riders; phones show rotating codes at offline gates and bus
validators; devices upload their journals (one batch twice, as a flaky link would); some
devices stay offline until the evening, so the days they touch are priced once and re-priced
when their taps arrive. Gates start from the backend's deny list; at noon one rider reports
their phone lost, and the gates sync the backend's delta, so later codes from it are refused.
The stage ends with the ledger check and the tap conservation count: taps accepted at devices
= taps ingested = taps stored = taps priced.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from faregate.demo.devices import enrol_devices
from faregate.demo.riders import DemoRider
from qr.issue import PhoneCredential
from qr.keys import KeyMaterial
from simulators.city import CityDevices, UploadedTap
from simulators.network import SimRoute
from simulators.traffic import Presentation, SimPassenger, plan_day
from ticketing.devices import Binding, DeviceKind
from ticketing.fares.feed import FareFeed
from ticketing.journal import DeviceTap
from ticketing.ledger.reports import InvariantReport
from ticketing.services.devices import places_of
from ticketing.services.figures import day_figures
from ticketing.services.journal import feed_places, ingest_journal
from ticketing.services.passengers import fetch_credential, report_lost
from ticketing.services.pricing_worker import run_worker
from ticketing.services.riders import deny_list_delta, deny_list_snapshot
from ticketing.taps import TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

OFFLINE_DEVICE_SHARE = 0.1
SKEWED_PHONE_SHARE = 0.05
# Within one TOTP step of drift the gate still accepts; two minutes off is refused.
SMALL_SKEW = timedelta(seconds=10)
BROKEN_SKEW = timedelta(minutes=2)
LOST_PHONE_AT = 12  # hour of the day the lost phone is reported
DAY_LENGTH = timedelta(hours=18)  # the uploads arrive at midnight of the demo day


@dataclass
class CityStageResult:
    riders: Sequence[DemoRider] = ()
    presented: int = 0
    enrolled_devices: int = 0
    accepted_at_devices: int = 0
    refused_at_devices: Counter[str] = field(default_factory=Counter)
    ingested: int = 0
    duplicates_ignored: int = 0
    quarantined: int = 0  # taps the backend could not attribute or price (none, in the demo)
    stored_taps: int = 0
    priced_taps: int = 0
    lost_phone: str | None = None  # the account whose phone was reported lost
    deny_list_version: int = 0  # the version the gates reached
    days_priced: int = 0
    days_repriced: int = 0
    ledger: InvariantReport | None = None

    @property
    def taps_conserved(self) -> bool:
        return self.accepted_at_devices == self.ingested == self.stored_taps == self.priced_taps


def _as_record(upload: UploadedTap) -> DeviceTap:
    """What the device uploads: its credential id and what it saw, never an account (the
    backend attributes the tap)."""
    return DeviceTap(
        upload.device_id, upload.device_seq, upload.credential_id, upload.at, upload.route_id,
        upload.stop_id, TapKind(upload.action),
    )  # fmt: skip


async def run_city_stage(
    workdir: Path,
    console: Console,
    *,
    keys: KeyMaterial,
    feed: FareFeed,
    routes: Sequence[SimRoute],
    uow_factory: UnitOfWorkFactory,
    day_start: datetime,
    riders: Sequence[DemoRider],
    seed: int,
) -> CityStageResult:
    rng = random.Random(seed)
    result = CityStageResult(riders=riders)
    passengers = [SimPassenger(r.phone.credential.credential_id, r.home_route) for r in riders]
    plan = plan_day(passengers, routes, day_start, seed=seed)
    result.presented = len(plan)
    result.enrolled_devices = await enrol_devices(
        uow_factory, _bindings(plan, routes), places_of(feed, lots=())
    )
    # The first rider is the demo's card-paying rider: their day must reach the gateway.
    skew = {
        p.credential_id: (BROKEN_SKEW if rng.random() < 0.2 else SMALL_SKEW)
        for p in passengers[1:]
        if rng.random() < SKEWED_PHONE_SHARE
    }
    lost = riders[-1] if len(riders) > 1 else None
    noon = day_start.replace(hour=LOST_PHONE_AT, minute=0)
    devices = CityDevices(
        workdir / "devices",
        keys.keyset,
        keys.secure_module(),
        await deny_list_snapshot(uow_factory),
        day_start,
    )
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("passengers tapping", total=len(plan))
            phones = {r.phone.credential.credential_id: r.phone for r in riders}
            morning = [p for p in plan if p.at < noon]
            afternoon = [p for p in plan if p.at >= noon]
            _present(devices, morning, phones, skew, result, progress, task)
            if lost is not None:
                await _report_lost_phone(uow_factory, keys, devices, lost, noon)
                result.lost_phone = lost.account_id
            _present(devices, afternoon, phones, skew, result, progress, task)
        result.deny_list_version = devices.deny_list.version

        all_devices = devices.device_ids
        offline = set(rng.sample(all_devices, max(1, int(len(all_devices) * OFFLINE_DEVICE_SHARE))))
        online = [d for d in all_devices if d not in offline]

        # The uploads reach the backend that evening (its clock then judges the tap times).
        evening = UnitOfWorkFactory(uow_factory.engine, clock=lambda: day_start + DAY_LENGTH)
        first_upload = [_as_record(u) for u in devices.upload(online)]
        await _upload(evening, feed, first_upload, result, console, "online devices")
        # A device that lost the acknowledgement sends its batch again: nothing may change.
        await _upload(evening, feed, first_upload[:500], result, console, "resent batch")
        late_upload = [_as_record(u) for u in devices.upload(sorted(offline))]
        await _upload(evening, feed, late_upload, result, console, "devices back online")
    finally:
        devices.close()

    figures = await day_figures(uow_factory)
    result.stored_taps = figures.taps_stored
    result.priced_taps = figures.taps_priced
    result.ledger = figures.ledger
    _print_summary(console, result, len(offline), len(all_devices))
    return result


def _bindings(plan: Sequence[Presentation], routes: Sequence[SimRoute]) -> dict[str, Binding]:
    """Every device the day uses, at its place: a metro gate at its stop, a bus validator on
    its route."""
    metro = {route.route_id for route in routes if route.is_metro}
    return {
        p.device_id: Binding(kind=DeviceKind.GATE, stop_id=p.stop_id)
        if p.route_id in metro
        else Binding(kind=DeviceKind.VALIDATOR, route_id=p.route_id)
        for p in plan
    }


def _present(
    devices: CityDevices,
    presentations: Sequence[Presentation],
    phones: dict[int, PhoneCredential],
    skew: dict[int, timedelta],
    result: CityStageResult,
    progress: Progress,
    task: TaskID,
) -> None:
    for start in range(0, len(presentations), 200):
        chunk = presentations[start : start + 200]
        outcome = devices.run(chunk, phones, skew)
        result.accepted_at_devices += outcome.accepted
        result.refused_at_devices.update(outcome.refused)
        progress.advance(task, len(chunk))


async def _report_lost_phone(
    uow_factory: UnitOfWorkFactory,
    keys: KeyMaterial,
    devices: CityDevices,
    rider: DemoRider,
    at: datetime,
) -> None:
    """The rider reports the phone lost (the passenger API's use case): the backend revokes
    its credential (and ends the account's sessions), the rider's new phone takes a new one,
    and every gate syncs the deny-list delta."""
    await report_lost(uow_factory, rider.account_id, by=None, at=at)
    await fetch_credential(uow_factory, keys, rider.account_id, at=at)
    delta = await deny_list_delta(uow_factory, devices.deny_list.version)
    if delta is not None:
        devices.apply_deny_delta(delta)


async def _upload(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    taps: list[DeviceTap],
    result: CityStageResult,
    console: Console,
    label: str,
) -> None:
    """Each device's batch stored as the device API stores it (each tap attributed to its
    credential's account), then the days it queued priced."""
    places = feed_places(feed)
    new = duplicates = quarantined = 0
    with console.status(f"storing and pricing the upload from {label}"):
        for device in sorted({t.device_id for t in taps}):
            mine = [t for t in taps if t.device_id == device]
            upload = await ingest_journal(uow_factory, device, mine, feed=feed, places=places)
            new += upload.new - len(upload.quarantined)
            duplicates += upload.duplicate
            quarantined += len(upload.quarantined)
        priced = await run_worker(uow_factory, feed, stop=asyncio.Event(), once=True)
    result.ingested += new
    result.duplicates_ignored += duplicates
    result.quarantined += quarantined
    result.days_priced += priced.pricing.priced
    result.days_repriced += priced.pricing.repriced
    console.print(
        f"upload from {label}: {len(taps)} taps, {new} new, {duplicates} duplicates ignored, "
        f"{quarantined} quarantined; {priced.pricing.changed} account-days (re)priced"
    )


def _print_summary(console: Console, result: CityStageResult, offline: int, devices: int) -> None:
    table = Table(title="City day", show_header=False)
    table.add_row("riders", str(len(result.riders)))
    table.add_row("devices enrolled", str(result.enrolled_devices))
    table.add_row("devices (offline until evening)", f"{devices} ({offline})")
    table.add_row("codes shown", str(result.presented))
    table.add_row("accepted at devices", str(result.accepted_at_devices))
    refused = ", ".join(f"{n} {reason}" for reason, n in sorted(result.refused_at_devices.items()))
    table.add_row("refused at devices", refused or "0")
    table.add_row(
        "taps ingested (duplicates ignored)", f"{result.ingested} ({result.duplicates_ignored})"
    )
    table.add_row("taps stored / priced", f"{result.stored_taps} / {result.priced_taps}")
    if result.lost_phone is not None:
        table.add_row(
            "lost phone reported at noon",
            f"{result.lost_phone}; gates synced to deny list v{result.deny_list_version}",
        )
    table.add_row(
        "account-days priced / re-priced", f"{result.days_priced} / {result.days_repriced}"
    )
    console.print(table)
