"""Demo stage 2: a seeded city day on the Hanoi network, from phones to the ledger.

The backend issues credentials to riders; phones show rotating codes at offline gates and bus
validators; devices upload their journals (one batch twice, as a flaky link would); some
devices stay offline until the evening, so the days they touch are priced once and re-priced
when their taps arrive. The stage ends with the ledger check and the tap conservation count:
taps accepted at devices = taps ingested = taps priced.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select

from faregate.demo.riders import DemoRider
from qr.denylist import DenyList
from qr.keys import KeyMaterial
from simulators.city import CityDevices, UploadedTap
from simulators.network import SimRoute
from simulators.traffic import SimPassenger, plan_day
from ticketing.db.models import PricedDayRow, TapRow
from ticketing.db.uow import UnitOfWorkFactory
from ticketing.fares.feed import FareFeed
from ticketing.ledger.reports import InvariantReport
from ticketing.services.pricing import FarePricing, account_days
from ticketing.taps import Tap, TapKind

OFFLINE_DEVICE_SHARE = 0.1
SKEWED_PHONE_SHARE = 0.05
# Within one TOTP step of drift the gate still accepts; two minutes off is refused.
SMALL_SKEW = timedelta(seconds=10)
BROKEN_SKEW = timedelta(minutes=2)


@dataclass
class CityStageResult:
    riders: Sequence[DemoRider] = ()
    presented: int = 0
    accepted_at_devices: int = 0
    refused_at_devices: Counter[str] = field(default_factory=Counter)
    ingested: int = 0
    duplicates_ignored: int = 0
    priced_taps: int = 0
    days_priced: int = 0
    days_repriced: int = 0
    ledger: InvariantReport | None = None

    @property
    def taps_conserved(self) -> bool:
        return self.accepted_at_devices == self.ingested == self.priced_taps


def _as_tap(upload: UploadedTap, account_of: dict[int, str]) -> Tap:
    return Tap(
        upload.device_id,
        upload.device_seq,
        upload.credential_id,
        account_of[upload.credential_id],
        upload.at,
        upload.route_id,
        upload.stop_id,
        TapKind(upload.action),
    )


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
    account_of = {r.phone.credential.credential_id: r.account_id for r in riders}
    passengers = [SimPassenger(r.phone.credential.credential_id, r.home_route) for r in riders]
    plan = plan_day(passengers, routes, day_start, seed=seed)
    result.presented = len(plan)
    skew = {
        p.credential_id: (BROKEN_SKEW if rng.random() < 0.2 else SMALL_SKEW)
        for p in passengers
        if rng.random() < SKEWED_PHONE_SHARE
    }
    devices = CityDevices(
        workdir / "devices",
        keys.keyset,
        keys.secure_module(),
        DenyList(1, frozenset(), issued_at=day_start),
        day_start,
    )
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("passengers tapping", total=len(plan))
            phones = {r.phone.credential.credential_id: r.phone for r in riders}
            for start in range(0, len(plan), 200):
                chunk = plan[start : start + 200]
                outcome = devices.run(chunk, phones, skew)
                result.accepted_at_devices += outcome.accepted
                result.refused_at_devices.update(outcome.refused)
                progress.advance(task, len(chunk))

        all_devices = devices.device_ids
        offline = set(rng.sample(all_devices, max(1, int(len(all_devices) * OFFLINE_DEVICE_SHARE))))
        online = [d for d in all_devices if d not in offline]

        first_upload = [_as_tap(u, account_of) for u in devices.upload(online)]
        await _ingest_and_price(uow_factory, feed, first_upload, result, console, "online devices")
        # A device that lost the acknowledgement sends its batch again: nothing may change.
        await _ingest_and_price(
            uow_factory, feed, first_upload[:500], result, console, "resent batch"
        )
        late_upload = [_as_tap(u, account_of) for u in devices.upload(sorted(offline))]
        await _ingest_and_price(
            uow_factory, feed, late_upload, result, console, "devices back online"
        )
    finally:
        devices.close()

    async with uow_factory() as uow:
        latest = (
            select(
                PricedDayRow.account_id, PricedDayRow.service_day, func.max(PricedDayRow.version)
            )
            .group_by(PricedDayRow.account_id, PricedDayRow.service_day)
            .subquery()
        )
        result.priced_taps = int(
            await uow.session.scalar(
                select(func.coalesce(func.sum(PricedDayRow.tap_count), 0)).where(
                    PricedDayRow.account_id == latest.c.account_id,
                    PricedDayRow.service_day == latest.c.service_day,
                    PricedDayRow.version == latest.c[2],
                )
            )
            or 0
        )
        stored = int(await uow.session.scalar(select(func.count()).select_from(TapRow)) or 0)
        assert stored == result.ingested
        result.ledger = await uow.ledger.check_invariants()
    _print_summary(console, result, len(offline), len(all_devices))
    return result


async def _ingest_and_price(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    taps: list[Tap],
    result: CityStageResult,
    console: Console,
    label: str,
) -> None:
    async with uow_factory() as uow:
        ingest = await uow.taps.ingest(taps)
        await uow.commit()
    result.ingested += ingest.inserted
    result.duplicates_ignored += ingest.duplicates
    changed = 0
    keys = sorted(account_days(feed, taps))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"pricing after {label}", total=len(keys))
        for start in range(0, len(keys), 100):
            async with uow_factory() as uow:
                pricing = FarePricing(uow.session, uow.ledger, feed, uow.clock)
                outcomes = await pricing.price_days(keys[start : start + 100])
                await uow.commit()
            for outcome in outcomes:
                if outcome.changed:
                    changed += 1
                    if outcome.version == 1:
                        result.days_priced += 1
                    else:
                        result.days_repriced += 1
            progress.advance(task, len(outcomes))
    console.print(
        f"upload from {label}: {len(taps)} taps, {ingest.inserted} new, "
        f"{ingest.duplicates} duplicates ignored; {changed} account-days (re)priced"
    )


def _print_summary(console: Console, result: CityStageResult, offline: int, devices: int) -> None:
    table = Table(title="City day", show_header=False)
    table.add_row("riders", str(len(result.riders)))
    table.add_row("devices (offline until evening)", f"{devices} ({offline})")
    table.add_row("codes shown", str(result.presented))
    table.add_row("accepted at devices", str(result.accepted_at_devices))
    refused = ", ".join(f"{n} {reason}" for reason, n in sorted(result.refused_at_devices.items()))
    table.add_row("refused at devices", refused or "0")
    table.add_row(
        "taps ingested (duplicates ignored)", f"{result.ingested} ({result.duplicates_ignored})"
    )
    table.add_row("taps priced", str(result.priced_taps))
    table.add_row(
        "account-days priced / re-priced", f"{result.days_priced} / {result.days_repriced}"
    )
    console.print(table)
