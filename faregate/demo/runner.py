"""Runs the demo's stages in order on the embedded default (SQLite, local servers)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.rule import Rule

from faregate.config import Settings
from faregate.database import open_database
from faregate.demo.city_stage import run_city_stage
from faregate.demo.credentials_stage import run_credentials_stage
from faregate.demo.parking_stage import run_parking_stage
from faregate.demo.payments_stage import charge_the_day, demo_payments, top_up_wallets
from faregate.demo.riders import issue_phones, plan_riders, registrations, sell_passes
from faregate.demo.settle_stage import run_settle_stage
from faregate_data import HANOI_FEED
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.keys import init_keys
from simulators.network import load_routes
from ticketing.fares.feed import load_feed
from ticketing.money import Money
from ticketing.services.riders import register_riders
from ticketing.unit_of_work import UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# A fixed, ordinary weekday keeps every run of the demo identical.
DEMO_DAY_START = datetime(2026, 11, 24, 6, 0, tzinfo=HANOI)
FEED_DIR = HANOI_FEED
RIDERS = 300
# Enough for a monthly pass (200,000) and a day of rides.
TOP_UP = Money(300_000, "VND")
SEED = 2026


@dataclass
class DemoReport:
    """The checks that must hold at the end of the demo, by name."""

    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


def demo_settings(settings: Settings) -> Settings:
    """The demo works in a fresh directory of its own inside the data directory."""
    workdir = settings.data_dir / "demo"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return Settings(workdir, settings.database_url, settings.redis_url)


async def run_demo(
    settings: Settings, console: Console, *, riders_count: int = RIDERS, seed: int = SEED
) -> DemoReport:
    report = DemoReport()
    settings = demo_settings(settings)
    workdir = settings.data_dir

    console.print(Rule("1. Credentials at an offline gate"))
    credentials = run_credentials_stage(workdir / "credentials", console, DEMO_DAY_START)
    report.checks["credential decisions as expected"] = credentials.as_expected

    console.print(Rule("2. A day on the Hanoi network"))
    feed = load_feed(FEED_DIR)
    routes = load_routes(FEED_DIR)
    keys = init_keys(workdir / "keys", DEMO_DAY_START - timedelta(days=2))
    engine = await open_database(settings)
    try:
        uow_factory = UnitOfWorkFactory(engine)
        plans = plan_riders(feed, routes, riders_count, DEMO_DAY_START, seed=seed)
        registered_at = DEMO_DAY_START - timedelta(days=1)
        await register_riders(uow_factory, registrations(plans), at=registered_at)
        async with demo_payments(workdir, uow_factory) as payments:
            await top_up_wallets(
                payments,
                console,
                plans,
                request_id=f"topup-{DEMO_DAY_START.date()}",
                top_up=TOP_UP,
            )
            morning = DEMO_DAY_START - timedelta(hours=2)
            passes = await sell_passes(uow_factory, feed, plans, morning, payments.payments)
            riders = await issue_phones(uow_factory, keys, plans, morning)
            console.print(
                f"{len(riders)} riders registered, cards saved, "
                f"{payments.result.top_ups} wallets topped up, {passes} monthly passes sold, "
                f"{len(riders)} phone credentials issued"
            )
            city = await run_city_stage(
                workdir,
                console,
                keys=keys,
                feed=feed,
                routes=routes,
                uow_factory=uow_factory,
                day_start=DEMO_DAY_START,
                riders=riders,
                seed=seed,
            )
            report.checks["taps accepted = ingested = priced"] = city.taps_conserved
            report.checks["ledger balanced after the city day"] = bool(
                city.ledger and city.ledger.ok
            )
            console.print(Rule("3. Parking in Hanoi"))
            parked = await run_parking_stage(
                workdir / "parking",
                console,
                settings=settings,
                keys=keys,
                uows=ParkingUnitOfWorkFactory(engine),
                riders=riders,
                day_start=DEMO_DAY_START,
            )
            report.checks["parking: offline barrier's journal applied exactly once"] = (
                parked.offline_applied_once
            )
            report.checks["parking: occupancy (Redis) = open sessions in every lot"] = (
                parked.occupancy_matches
            )
            report.checks["parking: unable-to-collect cases became debt"] = (
                parked.cases > 0 and parked.cases_as_debt == parked.cases
            )
            report.checks["parking: a receipt for every paid session"] = (
                parked.paid > 0 and parked.receipts == parked.paid
            )
            report.checks["parking: a permit sold, and the inspector finds it and a stay"] = (
                parked.permit is not None
                and sorted(parked.checks.values()) == ["nothing", "permit", "session"]
            )
            report.checks["ledger balanced after parking"] = bool(
                parked.ledger and parked.ledger.ok
            )
            console.print(Rule("4. Charging the day through the gateway"))
            paid = await charge_the_day(
                payments,
                console,
                uow_factory=uow_factory,
                riders=riders,
                service_day=DEMO_DAY_START.date(),
            )
            console.print(Rule("5. Settling the days for finance: prepared, then approved"))
            settled = await run_settle_stage(
                console,
                uow_factory=uow_factory,
                feed=feed,
                day=DEMO_DAY_START.date(),
                data_dir=workdir,
                gateway=payments.gateway,
                payments=payments.payments,
                # the city day, and the parking days after it (stays across midnight)
                days=tuple(DEMO_DAY_START.date() + timedelta(days=n) for n in range(3)),
            )
        report.checks["settled: control totals hold"] = settled.control_ok
        report.checks["ledger clearing = gateway collected"] = (
            paid.clearing_in_ledger == paid.collected_at_gateway
        )
        report.checks["declined card: denied, then cleared by retry"] = (
            paid.declined_account is not None
            and paid.denied_while_in_debt
            and paid.debt_cleared_by_retry
        )
        report.checks["declined card: rider told of the decline, then of the debt paid"] = (
            paid.rider_told_of_decline_and_payment
        )
        console.print(
            f"messages to riders: {len(await payments.outbox.messages())} in "
            f"{payments.outbox.path} (faregate outbox --data-dir {workdir})",
            soft_wrap=True,
        )
        report.checks["ledger balanced at the end of the day"] = bool(
            paid.ledger and paid.ledger.ok
        )
    finally:
        await engine.dispose()
    return report
