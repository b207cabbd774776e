"""Demo stage: parking in Hanoi with the riders' phones, over the wire.

Three lots from `data/parking/lots.toml` (Hoàn Kiếm on-street, the Vincom Bà Triệu car park,
the Đồng Xuân motorbike lot) are created the day before as an operator creates them
(`parking.lots.add_lot`, behind `faregate lots add`), each with a barrier registered at the
lot. On the day each barrier enrols over HTTP, corrects its clock, syncs its configuration
(the lot, its capacity and tariff versions), the key set, its sealed liveness keys and the
deny list, then decides offline (`simulators.barrier.OfflineBarrier`, the real verifier and
the lot's tariff) and uploads its journal to `POST /device/v1/parking/journal`; the backend
prices every exit from the tariff and keeps the lot's live occupancy. The motorbike lot's
barrier is offline 09:00-14:00: its journal goes up afterwards, and once more (the
acknowledgement was lost), applied once. Prepaid wallets get a hold at entry that the exit
captures; postpaid fees and anything not collected go to the receivable. A prepaid rider's
long stay costs more than the wallet holds: an unable-to-collect case. A month's permit is
sold at the Hoàn Kiếm counter and an inspector checks plates there, through the operator and
inspector APIs. The overnight stays leave on the next days: their barriers upload when the
backend's clock has reached them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from faregate.config import Settings
from faregate.database import open_database
from faregate.demo.riders import DemoRider
from faregate.demo.settle_stage import DEMO_PASSWORD, INSPECTOR, OPERATOR
from faregate_data import data_path
from parking.lots import add_lot
from parking.services import OpenedLot, load_lots, receipts, sessions_of, unable_to_collect_report
from parking.sessions import Lot, SessionState
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.keys import KeySet
from simulators.barrier import (
    UPLOAD_PATH,
    OfflineBarrier,
    UploadBatch,
    batch_to_wire,
    http_uploader,
    record_to_wire,
)
from simulators.device_client import DeviceClient, generate_device_key
from simulators.device_config import DeviceSettings
from simulators.phone import Phone
from simulators.secure_module import DeviceSecureModule
from ticketing.audit import Actor
from ticketing.devices import Binding, DeviceKind
from ticketing.riders import PaymentMode

STREET, MALL, MOTORBIKES = "hoan-kiem-street", "vincom-ba-trieu", "dong-xuan-motorbike"
OPERATOR_ACTOR = Actor.administrator("demo")
# The wallets looked at for the poorest: a bounded number (one request each), not every
# prepaid rider's of the city (a cost in proportion to the riders, 60,000 requests at 100,000).
POOREST_AMONG = 50
PERMIT_PLATE = "30A-456.78"  # a resident's car with a month's permit on the Hoàn Kiếm street
PARKED_PLATE = "30A-888.88"  # a car parked there through the barrier at the inspector's round
SOFTWARE_VERSION = "faregate-sim-barrier 1.0"


def barrier_id(lot_id: str) -> str:
    return f"barrier-{lot_id}"


def parking_lots() -> dict[str, OpenedLot]:
    return {lot.config.lot_id: lot for lot in load_lots(data_path("parking", "lots.toml"))}


async def open_lots(uows: ParkingUnitOfWorkFactory) -> dict[str, Binding]:
    """The lots created the day before, as an operator creates them; their barriers' places."""
    lots = parking_lots()
    for lot in lots.values():
        await add_lot(uows, lot.config, lot.document, by=OPERATOR_ACTOR, source=lot.config.lot_id)
    return {barrier_id(lot_id): Binding(kind=DeviceKind.BARRIER, lot_id=lot_id) for lot_id in lots}


@dataclass
class ParkingStageResult:
    offline_records: int = 0
    offline_applied_once: bool = False
    occupancy_matches: bool = False
    permit: str | None = None
    checks: dict[str, str] = field(default_factory=dict)  # plate -> what the inspector found
    uploads: int = 0


@dataclass
class ParkingFigures:
    sessions: int = 0
    paid: int = 0
    receipts: int = 0
    cases: int = 0
    cases_as_debt: int = 0


class Lane:
    """One lot's enrolled barrier: it decides offline and uploads its journal over HTTP."""

    def __init__(
        self, client: DeviceClient, barrier: OfflineBarrier, module: DeviceSecureModule
    ) -> None:
        self.client = client
        self.barrier = barrier
        self.module = module
        self.config: Mapping[str, Any] | None = None
        self.settings: DeviceSettings | None = None  # the configuration, read
        self.capacity = 0

    @classmethod
    async def enrol(
        cls, http: httpx.AsyncClient, lot_id: str, code: str, journal_dir: Path, at: datetime
    ) -> Lane:
        key = generate_device_key()
        device_id = barrier_id(lot_id)
        client = await DeviceClient.enrol(str(http.base_url), device_id, code, key, http=http)
        await client.correct_clock()
        keyset = KeySet.from_json(await client.keyset())
        module = DeviceSecureModule(key)
        settings = DeviceSettings.from_json(await client.configuration(None))
        assert settings.barrier is not None  # a barrier's configuration holds its lot
        lot = settings.barrier.lot
        barrier = OfflineBarrier(
            device_id,
            Lot(lot_id=lot.lot_id, tariff=settings.barrier.in_force.tariff, passback=lot.passback),
            keyset,
            module,
            journal_dir / f"{lot_id}.sqlite",
            collector=lambda charge: None,  # online, the backend takes the fee at the upload
            clock=lambda: at,
        )
        lane = cls(client, barrier, module)
        await lane.sync()
        return lane

    async def sync(self) -> None:
        self.config = await self.client.configuration(self.config)
        self.settings = settings = DeviceSettings.from_json(self.config)
        self.barrier.apply_settings(settings)
        assert settings.barrier is not None
        self.capacity = settings.barrier.lot.capacity - settings.barrier.lot.reserved
        sealed = await self.client.liveness_keys(self.module.version)
        if sealed is not None:
            self.module.load(sealed)
        self.barrier.hold_deny_list(
            await self.client.sync_deny_list(self.barrier.verifier.deny_list)
        )

    async def enter(
        self, rider: DemoRider, at: datetime, vehicle: str, plate: str | None = None
    ) -> bool:
        room = len(self.barrier.open_sessions) < self.capacity
        decision = self.barrier.present_entry(
            rider.phone.token_at(at), at, vehicle=vehicle, plate=plate, room=room
        )
        if self.barrier.online:
            await self.upload()
            await self.heartbeat_if_due()
        return decision.opened

    async def leave(self, rider: DemoRider, at: datetime) -> bool:
        decision = self.barrier.present_exit(rider.phone.token_at(at), at)
        if self.barrier.online:
            await self.upload()
            await self.heartbeat_if_due()
        return decision.opened

    async def upload(self) -> int:
        """Send what the journal holds after the cursor; the answer moves the cursor."""
        return await self.barrier.upload(http_uploader(self.client))

    async def send(self, records: Sequence[Any]) -> dict[str, Any]:
        """Send `records` as one batch and return the backend's answer (cursor unmoved)."""
        batch = UploadBatch(
            device_id=self.barrier.device_id,
            lot_id=self.barrier.lot.lot_id,
            records=tuple(records),
        )
        answer = await self.client.request("POST", UPLOAD_PATH, batch_to_wire(batch))
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    async def heartbeat_if_due(self) -> None:
        """Send a heartbeat if its interval (the configuration's) has come on the barrier's
        own clock."""
        if self.settings is not None and self.client.heartbeat_due(
            self.settings.heartbeat_interval
        ):
            await self.heartbeat()

    async def heartbeat(self) -> None:
        journal = self.barrier.journal
        waiting = journal.records(journal.cursor(self.barrier.device_id))
        answer = await self.client.heartbeat(
            SOFTWARE_VERSION,
            config=self.config,
            key_set_version=self.module.version,
            deny_list=self.barrier.verifier.deny_list,
            waiting=[record_to_wire(r) for r in waiting],
        )
        answer.raise_for_status()


class StaffUser:
    """An operator or inspector signed in to the staff API."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.http = http
        self.headers = headers

    @classmethod
    async def sign_in(cls, http: httpx.AsyncClient, username: str) -> StaffUser:
        answer = await http.post(
            "/api/v1/sessions", json={"username": username, "password": DEMO_PASSWORD}
        )
        answer.raise_for_status()
        return cls(http, {"Authorization": f"Bearer {answer.json()['token']}"})

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self.http.request(method, path, json=body, headers=self.headers)
        answer.raise_for_status()
        return answer.json()


class ParkingDay:
    """The parking stage in two parts: the day itself, and the stays that end on the next
    days (uploaded once the backend's clock has reached them)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        workdir: Path,
        console: Console,
        *,
        riders: Sequence[DemoRider],
        phones: Mapping[str, Phone],
        vehicles: int,
        day_start: datetime,
    ) -> None:
        self.http = http
        self.workdir = workdir
        self.console = console
        self.riders = riders
        self.phones = phones
        self.vehicles = vehicles
        self.day_start = day_start
        self.lanes: dict[str, Lane] = {}
        self.result = ParkingStageResult()
        self.prepaid = [r for r in riders if r.payment_mode is PaymentMode.PREPAID_WALLET]
        self.postpaid = [r for r in riders if r.payment_mode is PaymentMode.POSTPAID_CARD]
        street = max(1, vehicles // 3)
        mall = max(1, vehicles // 6)
        self.counts = (street, mall, max(1, vehicles - street - mall - 1))
        self.poorest: DemoRider | None = None

    async def enrol(self, codes: Mapping[str, str]) -> None:
        """The barriers enrol in the morning, before the first car (the backend refuses records
        dated before their device's enrolment)."""
        for lot_id in sorted(parking_lots()):
            self.lanes[lot_id] = await Lane.enrol(
                self.http, lot_id, codes[barrier_id(lot_id)], self.workdir, self.day_start
            )

    async def the_day(self) -> None:
        """Park through the day of `day_start` (the barriers first correct their clocks and
        sync: the backend may have restarted since they enrolled)."""
        await self._resync()
        street_n, mall_n, bikes_n = self.counts
        street, mall, bikes = self.lanes[STREET], self.lanes[MALL], self.lanes[MOTORBIKES]
        morning = self.day_start.replace(hour=7, minute=0)

        # Short stays on the street (prepaid wallets: hold at entry, captured at exit).
        for n, rider in enumerate(self.prepaid[:street_n]):
            await street.enter(rider, morning + timedelta(minutes=7 * n), "car", f"30A-{n:03d}.11")
        for n, rider in enumerate(self.prepaid[: street_n * 3 // 4]):
            await street.leave(rider, morning + timedelta(hours=1 + n % 3, minutes=7 * n + 5))

        # A prepaid rider whose wallet cannot cover two days at the mall: unable to collect.
        self.poorest = await self._poorest()
        if self.poorest is not None:
            await mall.enter(self.poorest, morning + timedelta(hours=1), "car", "30F-999.99")

        # The motorbike lot's barrier is offline 09:00-14:00 and decides alone.
        bikers = list(self.riders[-bikes_n:])
        bikes.barrier.online = False
        offline_at = self.day_start.replace(hour=9, minute=0)
        for n, rider in enumerate(bikers):
            await bikes.enter(rider, offline_at + timedelta(minutes=9 * n), "motorbike")
        for n, rider in enumerate(bikers[: max(1, len(bikers) * 2 // 3)]):
            await bikes.leave(rider, offline_at + timedelta(hours=2, minutes=11 * n))
        bikes.barrier.online = True
        await bikes.sync()
        pending = bikes.barrier.journal.records(0)
        self.result.offline_records = len(pending)
        first = await bikes.send(pending)  # back online: the journal goes up...
        again = await bikes.send(pending)  # ...and once more (the acknowledgement was lost)
        bikes.barrier.journal.advance_cursor(bikes.barrier.device_id, int(first["last_seq"]))
        self.result.offline_applied_once = first["applied"] == len(pending) and again[
            "duplicate"
        ] == len(pending)
        self.console.print(
            f"Motorbike barrier offline 09:00-14:00: {len(pending)} journal records uploaded "
            f"({first['applied']} applied, then {again['duplicate']} duplicates ignored); the "
            f"backend corrected the lot's occupancy to {first['occupancy']['occupied']} from "
            "the sessions"
        )

        # At noon a car the barrier let in is still on the street, for the inspector.
        noon = self.day_start.replace(hour=12)
        if self.prepaid:
            await street.enter(self.prepaid[0], noon - timedelta(minutes=40), "car", PARKED_PLATE)
        await self._permit_and_checks(noon)

        # Overnight at the mall (postpaid: the fee joins the receivable).
        evening = self.day_start.replace(hour=19, minute=0)
        for n, rider in enumerate(self.postpaid[1 : 1 + mall_n]):
            await mall.enter(rider, evening + timedelta(minutes=3 * n), "car", f"29H-{n:03d}.22")
        await self._heartbeats()

    async def the_next_days(self) -> None:
        """The overnight stays leave (the backend's clock is past them now)."""
        await self._resync()
        _, mall_n, _ = self.counts
        mall = self.lanes[MALL]
        evening = self.day_start.replace(hour=19, minute=0)
        for n, rider in enumerate(self.postpaid[1:mall_n]):
            await mall.leave(rider, evening + timedelta(hours=13, minutes=3 * n))
        if self.poorest is not None:
            morning = self.day_start.replace(hour=7, minute=0)
            await mall.leave(self.poorest, morning + timedelta(days=2, hours=2))
        await self._heartbeats()
        await self._occupancy()

    async def _resync(self) -> None:
        for lane in self.lanes.values():
            await lane.client.correct_clock()
            await lane.sync()

    async def _heartbeats(self) -> None:
        for lane in self.lanes.values():
            await lane.heartbeat_if_due()

    async def _poorest(self) -> DemoRider | None:
        """The prepaid rider whose wallet holds least among the first `POOREST_AMONG` (a long
        stay costs more than that): each wallet is read through the rider's phone."""
        balances = []
        for rider in self.prepaid[:POOREST_AMONG]:
            account = await self.phones[rider.account_id].account()
            balances.append((int(account["balance"]["amount"]), rider.account_id, rider))
        return min(balances)[2] if balances else None

    async def _permit_and_checks(self, noon: datetime) -> None:
        """A month's permit sold at the Hoàn Kiếm counter (operator API), then an inspector's
        round there (inspector API): the permit holder's plate, a car that entered through
        the barrier, and one with neither."""
        operator = await StaffUser.sign_in(self.http, OPERATOR)
        permit = await operator.call(
            "POST", f"/api/v1/operator/lots/{STREET}/permits",
            {"month": f"{noon:%Y-%m}", "plate": PERMIT_PLATE},
        )  # fmt: skip
        self.result.permit = str(permit["permit_id"])
        inspector = await StaffUser.sign_in(self.http, INSPECTOR)
        for plate in (PERMIT_PLATE, PARKED_PLATE, "30E-999.99"):
            check = await inspector.call(
                "POST", "/api/v1/inspector/checks", {"lot_id": STREET, "plate": plate}
            )
            self.result.checks[plate] = str(check["result"])
        self.console.print(
            f"Permit {self.result.permit} sold at the Hoàn Kiếm counter; inspector at noon: "
            + ", ".join(f"{plate} {found}" for plate, found in self.result.checks.items())
        )

    async def _occupancy(self) -> None:
        """The backend's live occupancy of each lot (operator API) against the stays its
        barrier holds open."""
        operator = await StaffUser.sign_in(self.http, OPERATOR)
        lots = (await operator.call("GET", "/api/v1/operator/lots"))["lots"]
        table = Table(title="Live occupancy (backend) against the barriers' open stays")
        for column in ("lot", "capacity", "occupied (backend)", "free", "open at the barrier"):
            table.add_column(column)
        matches = True
        for lot in lots:
            lane = self.lanes.get(lot["lot_id"])
            open_here = 0 if lane is None else len(lane.barrier.open_sessions)
            matches &= lot["occupied"] == open_here
            table.add_row(
                lot["name"], str(lot["capacity"]), str(lot["occupied"]), str(lot["free"]),
                str(open_here),
            )  # fmt: skip
        self.result.occupancy_matches = matches
        self.console.print(table)

    def close(self) -> None:
        for lane in self.lanes.values():
            lane.barrier.close()


async def parking_figures(settings: Settings, console: Console, zone: tzinfo) -> ParkingFigures:
    """Sessions, receipts and unable-to-collect cases as the backend's database holds them
    (read beside the running server)."""
    figures = ParkingFigures()
    engine = await open_database(settings)
    try:
        uows = ParkingUnitOfWorkFactory(engine)
        sessions = await sessions_of(uows)
        paid = await receipts(uows)
        report = await unable_to_collect_report(uows)
    finally:
        await engine.dispose()
    figures.sessions = len(sessions)
    figures.paid = sum(1 for s in sessions if s.status is SessionState.CLOSED and (s.fee or 0) > 0)
    figures.receipts = len(paid)
    figures.cases = report.count
    figures.cases_as_debt = sum(1 for c in report.cases if c.debt_posting_id is not None)
    shown = Table(title="Receipts (first three)")
    for column in ("receipt", "lot", "stay", "amount"):
        shown.add_column(column)
    for receipt in paid[:3]:
        entered, left = receipt.entry_at.astimezone(zone), receipt.exit_at.astimezone(zone)
        stay = f"{entered:%d %H:%M} - {left:%d %H:%M}"
        shown.add_row(receipt.receipt_no, receipt.lot_name, stay, f"{receipt.amount:,} VND")
    console.print(shown)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(report.by_reason.items()))
    console.print(
        f"{figures.sessions} parking sessions, {figures.receipts} receipts; unable to collect: "
        f"{report.count} cases ({reasons}), {report.totals.get('VND', 0):,} VND now debt on "
        "the riders' receivables"
    )
    return figures
