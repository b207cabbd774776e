"""Runs the demo's stages in order: the backend as its own process, everything else over HTTP.

1. Credentials at an offline gate (no backend).
2. The day before, through the service layer: keys, the customer base (accounts and their
   passenger users, cards and wallet balances of earlier days, in bulk), the staff users,
   the devices registered at their places.
3. The city day: `faregate serve` on the demo's directory with its clock on the simulated
   day; phones fetch credentials, save cards, top up wallets that run low and buy passes
   through the passenger API; devices enrol and upload over the device API; the backend
   restarts at noon.
4. Parking in Hanoi: barriers over the device API, the operator and inspector over theirs;
   the backend restarts two days on for the overnight stays' exits.
5. Settlement of the days through the finance API, prepared and approved by two users.
6. The figures: conservation of taps and money, checked from what the backend holds.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import Progress
from rich.rule import Rule
from rich.table import Table

from faregate.config import Settings
from faregate.database import open_database
from faregate.demo.backend import Backend
from faregate.demo.city_stage import deliver_late_taps, device_places, run_city_stage
from faregate.demo.cluster import database_option, demo_backend, demo_database
from faregate.demo.credentials_stage import run_credentials_stage
from faregate.demo.devices import register_devices
from faregate.demo.figures import DemoFigures, day_figures_of
from faregate.demo.gateway import demo_gateway
from faregate.demo.parking_stage import ParkingDay, open_lots, parking_figures
from faregate.demo.riders import (
    PASSENGER_PASSWORD,
    cards_of_earlier_days,
    carried_balances,
    load_customer_base,
    morning_phones,
    plan_riders,
    topping_up,
)
from faregate.demo.settle_stage import (
    APPROVER,
    DEMO_PASSWORD,
    INSPECTOR,
    OPERATOR,
    PREPARER,
    add_staff,
    run_settle_stage,
    settle_command_line,
    unsettled_before,
)
from faregate.demo.stopwatch import Stopwatch
from faregate_data import HANOI_FEED
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.issue import PhoneCredential, issue_credential
from qr.keys import init_keys, load_keys
from simulators.faults import FaultKind, Faults
from simulators.network import load_routes
from simulators.traffic import SimPassenger, plan_day
from ticketing.fares.feed import load_feed
from ticketing.services.devices import places_of
from ticketing.services.passengers import fetch_credentials
from ticketing.unit_of_work import UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# A fixed, ordinary weekday keeps every run of the demo identical.
DEMO_DAY_START = datetime(2026, 11, 24, 6, 0, tzinfo=HANOI)
FEED_DIR = HANOI_FEED
PASSENGERS = 300
VEHICLES = 24
# Enough for a monthly pass (200,000) and a day of rides.
TOP_UP = 300_000
SEED = 2026
# The backend's clock at each start: the morning before the first tap (after the day's
# 04:00 cut-off), noon (the restart), and the morning the parking days are all closed (the
# overnight stays' exits uploaded, the days settled).
MORNING = DEMO_DAY_START.replace(hour=4, minute=30)
SETTLING = DEMO_DAY_START.replace(hour=9) + timedelta(days=3)
PARKING_DAYS = 3  # the city day and the two after it (stays across midnight)


@dataclass
class DemoReport:
    """The checks that must hold at the end of the demo, by name, and its figures."""

    checks: dict[str, bool] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    backend: Backend | None = None  # still running, with `serve`

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


def demo_settings(settings: Settings, data_dir: Path | None) -> Settings:
    """The demo works in a fresh directory of its own: `data_dir`, else `demo` inside the
    global data directory."""
    workdir = data_dir if data_dir is not None else settings.data_dir / "demo"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return Settings(workdir.resolve(), settings.database_url, settings.redis_url)


async def run_demo(
    settings: Settings,
    console: Console,
    *,
    passengers: int = PASSENGERS,
    vehicles: int = VEHICLES,
    seed: int = SEED,
    data_dir: Path | None = None,
    faults: Faults | None = None,
    serve: bool = False,
    stopwatch: Stopwatch | None = None,
    servers: int = 1,
) -> DemoReport:
    """The demo's day; `faults` switched on (default: every kind, reduced) strike in it.
    `serve`: leave the backend running (`report.backend`) for `serve_demo`. `stopwatch`:
    where the wall time went, by part. `servers`: more than one, on PostgreSQL, is that many
    `faregate serve` processes and a `faregate worker` (`faregate.demo.cluster`)."""
    report = DemoReport()
    watch = stopwatch if stopwatch is not None else Stopwatch()
    faults = faults if faults is not None else Faults()
    settings = await demo_database(demo_settings(settings, data_dir))
    workdir = settings.data_dir
    day = DEMO_DAY_START.date()

    console.print(Rule("1. Credentials at an offline gate"))
    credentials = run_credentials_stage(workdir / "credentials", console, DEMO_DAY_START)
    report.checks["credential decisions as expected"] = credentials.as_expected
    watch.lap("credentials at an offline gate")

    console.print(Rule("2. The day before: customer base, staff and devices"))
    feed = load_feed(FEED_DIR)
    routes = load_routes(FEED_DIR)
    init_keys(workdir / "keys", DEMO_DAY_START - timedelta(days=2))
    plans = plan_riders(feed, routes, passengers, DEMO_DAY_START, seed=seed)
    # The plan names passengers by their index: their credentials come from the backend later.
    plan = plan_day(
        [SimPassenger(n, p.home_route) for n, p in enumerate(plans)],
        routes, DEMO_DAY_START, seed=seed,
    )  # fmt: skip
    bindings, places = device_places(plan, routes)
    engine = await open_database(settings)
    try:
        the_day_before = UnitOfWorkFactory(engine, clock=lambda: DEMO_DAY_START - timedelta(days=1))
        cards = await cards_of_earlier_days(workdir / "localstripe", plans)
        balances = carried_balances(plans, top_up=TOP_UP, seed=seed)
        loaded = await load_customer_base(
            the_day_before, plans, at=DEMO_DAY_START - timedelta(days=1), cards=cards,
            balances=balances,
        )  # fmt: skip
        # Their phones fetched credentials on earlier days too (but the pass buyers', whose
        # credential follows the pass they buy on the day).
        held = await fetch_credentials(
            the_day_before, load_keys(workdir / "keys"),
            [p.account_id for p in plans if p.account_id in cards and p.pass_product is None],
            at=DEMO_DAY_START - timedelta(days=1),
        )  # fmt: skip
        await add_staff(the_day_before)
        barriers = await open_lots(
            ParkingUnitOfWorkFactory(engine, clock=lambda: DEMO_DAY_START - timedelta(days=1))
        )
        codes = await register_devices(
            the_day_before,
            {**bindings, **barriers},
            places_of(feed, lots=[b.lot_id for b in barriers.values() if b.lot_id]),
        )
    finally:
        await engine.dispose()
    console.print(
        f"{loaded} riders loaded in bulk (accounts and passenger users, {len(cards)} with "
        f"the card they saved earlier, {len(held)} phones with the credential they fetched "
        f"then, {len(balances)} wallets with the balance they carry from earlier days: "
        f"{sum(balances.values()):,} VND collected then); {len(barriers)} "
        f"parking lots opened; {len(bindings)} gates and validators and {len(barriers)} "
        "barriers registered at their places, each with its enrolment code"
    )

    watch.lap("the day before (service layer)")
    console.print(Rule("3. A day on the Hanoi network, over the wire"))
    async with demo_gateway(workdir, faults, seed=seed) as gateway:
        backend = demo_backend(settings, gateway.environment, servers=servers)
        await backend.start(MORNING)
        watch.lap("backend starts")
        console.print(backend.describe())
        try:
            async with backend.client(timeout=60.0) as http:
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task(
                        "phones: card, top-up, pass, credential", total=len(plans)
                    )
                    riders, phones, tally = await morning_phones(
                        http, plans, top_up=TOP_UP, declining=plans[0].account_id,
                        progress=lambda: progress.advance(task), on_file=cards.keys(),
                        credentials=held, short=topping_up(feed, plans, balances),
                    )  # fmt: skip
                await gateway.stop_striking(faults, MORNING)
                watch.lap("phones (passenger API)")
                stranger = (
                    _stranger(workdir / "keys", riders[0].phone, seed)
                    if faults.on(FaultKind.UNKNOWN_CREDENTIAL)
                    else None
                )
                console.print(
                    f"through the passenger API: {tally.cards} cards saved (the other "
                    f"{tally.cards_on_file} riders' were on file), {tally.top_ups} "
                    f"riders topped up on the day ({tally.topped_up:,} VND; the other wallets "
                    f"carried enough), {tally.passes} passes sold, "
                    f"{tally.credentials} phone credentials fetched ({tally.credentials_held} "
                    f"phones held theirs); {tally.declined} payments "
                    f"declined, {tally.retried} sent again after a 502"
                )
                parking = ParkingDay(
                    http, workdir / "barriers", console, riders=riders, phones=phones,
                    vehicles=vehicles, day_start=DEMO_DAY_START,
                )  # fmt: skip
                await parking.enrol(codes)
                city = await run_city_stage(
                    workdir, console, backend=backend, http=http, plan=plan,
                    codes={d: codes[d] for d in bindings}, places=places, riders=riders,
                    phones=phones, day_start=DEMO_DAY_START, seed=seed, faults=faults,
                    stranger=stranger, stopwatch=watch,
                )  # fmt: skip
                console.print(Rule("4. Parking in Hanoi"))
                try:
                    await parking.the_day()
                    watch.lap("parking")
                    # Three days on: the overnight stays have left and every day is closed.
                    # From here on the server's gateway is its own: the directory's localstripe.
                    backend.environment.clear()
                    await backend.stop()
                    await backend.start(SETTLING)
                    watch.lap("backend starts")
                    await parking.the_next_days()
                finally:
                    parking.close()
                parked = parking.result
                report.checks["parking: offline barrier's journal applied exactly once"] = (
                    parked.offline_applied_once
                )
                report.checks["parking: occupancy (backend) = open stays at the barriers"] = (
                    parked.occupancy_matches
                )
                report.checks["parking: a permit sold, and the inspector finds it and a stay"] = (
                    parked.permit is not None
                    and sorted(parked.checks.values()) == ["nothing", "permit", "session"]
                )
                lots = await parking_figures(settings, console, HANOI)
                report.checks["parking: a receipt for every paid session"] = (
                    lots.paid > 0 and lots.receipts == lots.paid
                )
                report.checks["parking: unable-to-collect cases became debt"] = (
                    lots.cases > 0 and lots.cases_as_debt == lots.cases
                )

                watch.lap("parking")
                console.print(Rule("5. Settling the days for finance: prepared, then approved"))
                days = tuple(day + timedelta(days=n) for n in range(PARKING_DAYS))
                # The day the base was loaded holds the wallets' carried balances when there
                # are any: finance settles it too (nothing collected), so no day of the
                # calendar is left closed and unsettled.
                earlier = await unsettled_before(http, day)
                if earlier:
                    await run_settle_stage(console, http=http, days=earlier, data_dir=workdir)
                settled = await run_settle_stage(
                    console, http=http, days=days, data_dir=workdir,
                    between=lambda day, after: deliver_late_taps(
                        city, faults, day, next_run=after
                    ),
                )  # fmt: skip
            report.checks["settled: control totals hold"] = settled.control_ok
            for shot in city.screenshots:
                if not shot.redis_down:
                    report.checks["shared screenshot refused at the station's second gate"] = (
                        shot.second_refused
                    )
                elif shot.both_accepted:  # each gate alone: settlement must find it
                    report.checks["screenshot shared while the station was cut off: flagged"] = (
                        settled.summaries[0].exceptions.get("shared_code", 0) >= 1
                    )
            watch.lap("settling (pricing, charges, reports)")
            figures = await day_figures_of(settings, days, city, settled.summaries)
        except BaseException:
            await backend.stop()
            raise
    if serve:
        report.backend = backend
    else:
        await backend.stop()
    watch.lap("closing figures")
    report.checks.update(figures.checks())
    report.figures = figures.as_json(
        seed=seed, day=day, data_dir=workdir, report=settled.report, sessions=lots.sessions,
        refusals=city.refused_at_devices, faults=faults.counts(),
    )  # fmt: skip
    report.figures.update(backend.figures())
    _print_figures(console, figures)
    console.print(Rule("What went wrong and how it was handled"))
    for line in faults.summary():
        console.print(line, soft_wrap=True, markup=False)
    console.print(
        f"settle it again: {settle_command_line(day, workdir)}{database_option(settings)}",
        soft_wrap=True,
    )
    return report


def _stranger(keys_dir: Path, like: PhoneCredential, seed: int) -> PhoneCredential:
    """A credential signed with the network's own keys whose id the backend never issued
    (a 63-bit id from the seed: the backend's are random 64-bit ones)."""
    return issue_credential(
        load_keys(keys_dir), credential_id=random.Random(seed).getrandbits(63),
        product=like.credential.product, now=DEMO_DAY_START - timedelta(hours=1),
    )  # fmt: skip


async def serve_demo(backend: Backend, console: Console) -> None:
    """`faregate demo --serve`: the demo's backend left running on its directory until Ctrl-C,
    with the pages' addresses and the demo's sign-ins."""
    try:
        url = backend.url
        table = Table(title=f"The demo's backend at {url} (Ctrl-C stops it)")
        for column in ("page", "address", "sign in as", "password"):
            table.add_column(column)
        table.add_row("passenger", f"{url}/", "r00000 (any rider's account id)", PASSENGER_PASSWORD)
        table.add_row("operator", f"{url}/operator", OPERATOR, DEMO_PASSWORD)
        table.add_row("finance", f"{url}/finance", f"{PREPARER} or {APPROVER}", DEMO_PASSWORD)
        table.add_row("inspector (API)", f"{url}/api/v1/inspector/lots", INSPECTOR, DEMO_PASSWORD)
        table.add_row("API", f"{url}/openapi.json", "", "")
        console.print(table)
        await backend.wait()
    finally:
        await backend.stop()


def _print_figures(console: Console, figures: DemoFigures) -> None:
    console.print(figures.table())
