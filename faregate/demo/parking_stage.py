"""Demo stage: parking in Hanoi with the riders' phones, money on their accounts.

Three lots from `data/parking/lots.toml` (Hoàn Kiếm on-street, the Vincom Bà Triệu car park,
the Đồng Xuân motorbike lot), created as an operator creates them (`parking.lots.add_lot`, the
use case behind `faregate lots add` and the operator API), each with an `OfflineBarrier`
deciding offline with the real verifier and the lot's tariff. Online barriers upload every
event at once (live occupancy in the private Redis is counted on entry and exit); the motorbike
lot's barrier is offline from 09:00 to 14:00: its journal goes up afterwards, exactly once (the
upload is sent twice), and the lot's occupancy is corrected from the sessions. Prepaid wallets
get a hold at entry that the exit captures; postpaid fees and anything not collected go to the
receivable and join the day's charge (the next stage). A prepaid rider's long stay costs more
than the wallet holds: an unable-to-collect case. Receipts for every paid session. A month's
permit for Hoàn Kiếm is sold at the counter (`parking.permits.sell_permit`, the use case of
the operator API and page and of the passenger API) and printed, and an inspector checks two
plates on that street (`parking.inspections.check_plate`): the permit holder's, and a car
parked there that entered through the barrier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from faregate.config import Settings
from faregate.demo.devices import register_devices
from faregate.demo.riders import DemoRider
from faregate.redis_runtime import open_redis
from faregate_data import data_path
from parking.inspections import check_plate
from parking.lots import add_lot
from parking.occupancy import Occupancy
from parking.permit import Permit
from parking.permits import sell_permit
from parking.records import BarrierEvent
from parking.services import (
    BarrierUploadResult,
    OpenedLot,
    ingest_barrier_batch,
    load_lots,
    lot_statuses,
    receipts,
    sessions_of,
    unable_to_collect_report,
)
from parking.sessions import Lot, SessionState
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.keys import KeyMaterial
from simulators.barrier import BarrierRecord, Charge, OfflineBarrier
from ticketing.audit import Actor
from ticketing.devices import Binding, DeviceKind, Places
from ticketing.ledger.reports import InvariantReport
from ticketing.riders import PaymentMode
from ticketing.services.figures import check_ledger
from ticketing.services.passengers import account_overview

STREET, MALL, MOTORBIKES = "hoan-kiem-street", "vincom-ba-trieu", "dong-xuan-motorbike"
OPERATOR = Actor.administrator("demo")
PERMIT_PLATE = "30A-456.78"  # a resident's car with a month's permit on the Hoàn Kiếm street
PARKED_PLATE = "30A-888.88"  # a car parked there through the barrier at the inspector's round
INSPECTOR = "demo-inspector"


@dataclass
class ParkingStageResult:
    sessions: int = 0
    paid: int = 0
    receipts: int = 0
    cases: int = 0
    cases_as_debt: int = 0
    offline_records: int = 0
    offline_applied_once: bool = False
    occupancy_matches: bool = False
    ledger: InvariantReport | None = None
    permit: Permit | None = None
    checks: dict[str, str] = field(default_factory=dict)  # plate -> what the inspector found
    notes: list[str] = field(default_factory=list)


class _Lane:
    """One lot's barrier, its live occupancy, and its upload to the backend."""

    def __init__(
        self,
        lot: OpenedLot,
        keys: KeyMaterial,
        workdir: Path,
        uows: ParkingUnitOfWorkFactory,
        occupancy: Occupancy,
        clock_at: datetime,
    ) -> None:
        self.lot_id = lot.config.lot_id
        self.uows = uows
        self.occupancy = occupancy
        self.barrier = OfflineBarrier(
            f"barrier-{self.lot_id}",
            Lot(lot_id=self.lot_id, tariff=lot.tariff, passback=lot.config.passback),
            keys.keyset,
            keys.secure_module(),
            workdir / f"{self.lot_id}.sqlite",
            collector=self._collect,
            clock=lambda: clock_at,
        )

    @staticmethod
    def _collect(charge: Charge) -> None:
        """Online, the backend takes the fee when the exit is uploaded (hold, wallet, or the
        receivable); nothing to refuse at the lane."""

    async def enter(
        self, rider: DemoRider, at: datetime, vehicle: str, plate: str | None = None
    ) -> bool:
        room = True
        if self.barrier.online:
            room = (await self.occupancy.enter(self.lot_id)).admitted
        decision = self.barrier.present_entry(
            rider.phone.token_at(at), at, vehicle=vehicle, plate=plate, room=room
        )
        if self.barrier.online:
            if not decision.opened and room:
                await self.occupancy.exit(self.lot_id)
            await self.upload()
        return decision.opened

    async def leave(self, rider: DemoRider, at: datetime) -> bool:
        decision = self.barrier.present_exit(rider.phone.token_at(at), at)
        if self.barrier.online:
            if decision.opened:
                await self.occupancy.exit(self.lot_id)
            await self.upload()
        return decision.opened

    async def upload(self) -> BarrierUploadResult | None:
        """Send what the journal holds after the cursor; the answer moves the cursor."""
        journal = self.barrier.journal
        records = journal.records(journal.cursor(self.barrier.device_id))
        if not records:
            return None
        result = await self.send(records)
        journal.advance_cursor(self.barrier.device_id, result.last_seq)
        return result

    async def send(self, records: Sequence[BarrierRecord]) -> BarrierUploadResult:
        return await ingest_barrier_batch(
            self.uows,
            self.barrier.device_id,
            self.lot_id,
            [BarrierEvent.from_journal(record) for record in records],
            occupancy=self.occupancy,
        )


async def run_parking_stage(
    workdir: Path,
    console: Console,
    *,
    settings: Settings,
    keys: KeyMaterial,
    uows: ParkingUnitOfWorkFactory,
    riders: Sequence[DemoRider],
    day_start: datetime,
) -> ParkingStageResult:
    result = ParkingStageResult()
    lots = {lot.config.lot_id: lot for lot in load_lots(data_path("parking", "lots.toml"))}
    prepaid = [r for r in riders if r.payment_mode is PaymentMode.PREPAID_WALLET]
    postpaid = [r for r in riders if r.payment_mode is PaymentMode.POSTPAID_CARD]
    async with open_redis(settings) as redis:
        occupancy = Occupancy(redis, prefix="faregate-demo:parking:")
        opening = ParkingUnitOfWorkFactory(uows.engine, lambda: day_start - timedelta(hours=1))
        for lot in lots.values():
            await add_lot(
                opening, lot.config, lot.document, by=OPERATOR, source=lot.config.lot_id,
                occupancy=occupancy,
            )  # fmt: skip
        lanes = {
            lot_id: _Lane(lot, keys, workdir, uows, occupancy, day_start)
            for lot_id, lot in lots.items()
        }
        await register_devices(
            uows,
            {lane.barrier.device_id: Binding(kind=DeviceKind.BARRIER, lot_id=lot_id)
             for lot_id, lane in lanes.items()},
            Places(stops=(), routes=(), lots=frozenset(lots)),
        )  # fmt: skip
        street, mall, bikes = lanes[STREET], lanes[MALL], lanes[MOTORBIKES]
        morning = day_start.replace(hour=7, minute=0)

        # Short stays on the street (prepaid wallets: hold at entry, captured at exit).
        for n, rider in enumerate(prepaid[:8]):
            await street.enter(rider, morning + timedelta(minutes=7 * n), "car", f"30A-{n:03d}.11")
        for n, rider in enumerate(prepaid[:6]):
            await street.leave(rider, morning + timedelta(hours=1 + n % 3, minutes=7 * n + 5))

        # Overnight at the mall (postpaid: the fee joins the receivable).
        evening = day_start.replace(hour=19, minute=0)
        for n, rider in enumerate(postpaid[1:5]):
            await mall.enter(rider, evening + timedelta(minutes=3 * n), "car", f"29H-{n:03d}.22")
        for n, rider in enumerate(postpaid[1:4]):
            await mall.leave(rider, evening + timedelta(hours=13, minutes=3 * n))

        # A prepaid rider whose wallet cannot cover two days at the mall: unable to collect.
        poorest = await _poorest(uows, prepaid)
        if poorest is not None:
            await mall.enter(poorest, morning + timedelta(hours=1), "car", "30F-999.99")
            await mall.leave(poorest, morning + timedelta(days=2, hours=2))

        # The motorbike lot's barrier is offline 09:00-14:00 and decides alone.
        bikers = list(riders[-12:])
        bikes.barrier.online = False
        offline_at = day_start.replace(hour=9, minute=0)
        for n, rider in enumerate(bikers):
            await bikes.enter(rider, offline_at + timedelta(minutes=9 * n), "motorbike")
        for n, rider in enumerate(bikers[: max(1, len(bikers) * 2 // 3)]):
            await bikes.leave(rider, offline_at + timedelta(hours=2, minutes=11 * n))
        stale = (await occupancy.snapshot(MOTORBIKES)).occupied
        bikes.barrier.online = True
        pending = bikes.barrier.journal.records(0)
        result.offline_records = len(pending)
        first = await bikes.send(pending)  # back online: the journal goes up...
        again = await bikes.send(pending)  # ...and once more (the acknowledgement was lost)
        bikes.barrier.journal.advance_cursor(bikes.barrier.device_id, first.last_seq)
        result.offline_applied_once = (
            first.applied == len(pending) and again.no_op and again.duplicate == len(pending)
        )
        console.print(
            f"Motorbike barrier offline 09:00-14:00: {len(pending)} journal records uploaded "
            f"({first.applied} applied, then {again.duplicate} duplicates ignored); Redis said "
            f"{stale} parked, corrected to "
            f"{first.occupancy.occupied if first.occupancy else '?'} from the sessions"
        )

        # At noon a car the barrier let in is still on the Hoàn Kiếm street, for the inspector.
        noon = day_start.replace(hour=12)
        if prepaid:
            await street.enter(prepaid[0], noon - timedelta(minutes=40), "car", PARKED_PLATE)
        await _permit_and_checks(uows, console, result, noon=noon)
        statuses = await lot_statuses(uows, occupancy)
        for lane in lanes.values():
            lane.barrier.close()

    sessions = await sessions_of(uows)
    table = Table(title="Live occupancy (Redis) against open sessions")
    for column in ("lot", "capacity", "reserved", "occupied (Redis)", "free", "open sessions"):
        table.add_column(column)
    result.occupancy_matches = True
    for status in statuses:
        open_now = sum(
            1 for s in sessions if s.lot_id == status.lot_id and s.status is SessionState.OPEN
        )
        result.occupancy_matches &= status.occupied == open_now
        table.add_row(
            status.name, str(status.capacity), str(status.reserved), str(status.occupied),
            str(status.free), str(open_now),
        )  # fmt: skip
    console.print(table)
    paid = await receipts(uows)
    report = await unable_to_collect_report(uows)
    result.sessions = len(sessions)
    result.paid = sum(1 for s in sessions if s.status is SessionState.CLOSED and (s.fee or 0) > 0)
    result.receipts = len(paid)
    result.cases = report.count
    result.cases_as_debt = sum(1 for c in report.cases if c.debt_posting_id is not None)
    shown = Table(title="Receipts (first three)")
    for column in ("receipt", "lot", "stay", "amount"):
        shown.add_column(column)
    zone = day_start.tzinfo
    for receipt in paid[:3]:
        entered, left = receipt.entry_at.astimezone(zone), receipt.exit_at.astimezone(zone)
        stay = f"{entered:%d %H:%M} - {left:%d %H:%M}"
        shown.add_row(receipt.receipt_no, receipt.lot_name, stay, f"{receipt.amount:,} VND")
    console.print(shown)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(report.by_reason.items()))
    console.print(
        f"{result.sessions} parking sessions, {result.receipts} receipts; unable to collect: "
        f"{report.count} cases ({reasons})"
        f", {report.totals.get('VND', 0):,} VND now debt on the riders' receivables"
    )
    result.ledger = await check_ledger(uows)
    return result


async def _poorest(uows: ParkingUnitOfWorkFactory, riders: Sequence[DemoRider]) -> DemoRider | None:
    """The rider whose wallet can spend least (a long stay will cost more than that)."""
    spendable = [
        ((await account_overview(uows, r.account_id)).spendable.amount, r.account_id, r)
        for r in riders
    ]
    return min(spendable)[2] if spendable else None


async def _permit_and_checks(
    uows: ParkingUnitOfWorkFactory, console: Console, result: ParkingStageResult, noon: datetime
) -> None:
    """A month's permit sold at the Hoàn Kiếm counter, then an inspector's round there at
    noon: the permit holder's plate and one of the cars that entered through the barrier."""
    at_noon = ParkingUnitOfWorkFactory(uows.engine, lambda: noon)
    permit = await sell_permit(
        at_noon, STREET, noon.date().replace(day=1), by=OPERATOR, plate=PERMIT_PLATE,
        at_counter=True,
    )  # fmt: skip
    result.permit = permit
    zone = noon.tzinfo
    shown = Table(title="Monthly permit sold at the counter")
    for column in ("permit", "holder", "valid", "price", "paid"):
        shown.add_column(column)
    shown.add_row(
        permit.permit_id, permit.holder,
        f"{permit.valid_from.astimezone(zone):%d %b %Y} - "
        f"{(permit.valid_until - timedelta(seconds=1)).astimezone(zone):%d %b %Y}",
        f"{permit.price:,} {permit.currency}",
        "at the counter" if permit.posting_id is None else f"from {permit.account_id}",
    )  # fmt: skip
    console.print(shown)
    for plate in (PERMIT_PLATE, PARKED_PLATE, "30E-999.99"):
        check = await check_plate(at_noon, STREET, plate, inspector=INSPECTOR)
        result.checks[check.inspection.plate] = check.inspection.result
    console.print(
        "Inspector at Hoàn Kiếm, noon: "
        + ", ".join(f"{plate} {found}" for plate, found in result.checks.items())
    )
