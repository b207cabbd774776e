"""Parking operations on SQLite and PostgreSQL: the unable-to-collect follow-up (open ->
rider told through the outbox -> collected when the debt is paid, or written off with a
reason and who), found by plate, lot and day and exported as CSV; an inspector's plate
checks; a barrier opened from afar, carried out on its next sync and recorded."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from parking.cases import (
    CaseQuery,
    cases_csv,
    collect_case,
    find_cases,
    mark_paid_cases,
    notify_case,
    write_off_case,
)
from parking.errors import CaseError, InspectionError, InvalidPlate, RemoteOpenError, UnknownLot
from parking.history import lot_day
from parking.inspections import check_plate, inspection_lots, recent_checks
from parking.permits import sell_permit
from parking.records import BarrierEvent, CaseStatus, EventKind, LotKind
from parking.remote_open import lot_barriers, lot_commands, open_barrier
from parking.services import barrier_configuration, ingest_barrier_batch
from parking.sessions import Lot
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.vectors import fixed_key_material
from simulators.barrier import OfflineBarrier
from tests.helpers.parking import TESTS, lot_config, open_lot
from tests.wallets import open_funded_wallets
from ticketing import postings
from ticketing.audit import AuditAction, AuditQuery
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.outbox.file import FileOutbox
from ticketing.outbox.messages import Template, render_english
from ticketing.riders import CredentialRecord
from ticketing.services.audit import read_audit

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 24, 8, tzinfo=HANOI)
DEVICE = "street-b1"


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def uows(engine: AsyncEngine, clock: Clock) -> ParkingUnitOfWorkFactory:
    factory = ParkingUnitOfWorkFactory(engine, clock)
    await open_lot(factory, lot_config("street", kind=LotKind.ON_STREET, reserved=2,
                                       permit_price=3_000_000))  # fmt: skip
    await open_lot(factory, lot_config("mall"))
    async with factory() as uow:
        await open_funded_wallets(uow, ["anh", "binh"], 100_000)
        for n, name in enumerate(("anh", "binh"), 1):
            await uow.riders.issue_credential(
                CredentialRecord(n, name, T0 - timedelta(days=1), T0 + timedelta(days=30), T0)
            )
        await uow.commit()
    return factory


def unpaid(
    seq: int, credential_id: int | None, plate: str | None, at: datetime
) -> list[BarrierEvent]:
    common = {"device_id": DEVICE, "lot_id": "street", "vehicle": "car", "plate": plate}
    return [
        BarrierEvent(seq=seq, kind=EventKind.ENTRY, at=at, reason="ok",
                     credential_id=credential_id, **common),  # type: ignore[arg-type]
        BarrierEvent(seq=seq + 1, kind=EventKind.EXIT, at=at + timedelta(hours=2),
                     reason="unable_to_collect", session_seq=seq, credential_id=credential_id,
                     fee=25_000, currency="VND", collected=0, failure="barrier_offline",
                     tariff_id="hanoi-car", **common),  # type: ignore[arg-type]
    ]  # fmt: skip


async def test_a_case_is_told_then_collected_when_its_debt_is_paid(
    uows: ParkingUnitOfWorkFactory, clock: Clock, tmp_path: Path
) -> None:
    await ingest_barrier_batch(uows, DEVICE, "street", unpaid(1, 1, "30A-111.11", T0))
    await ingest_barrier_batch(uows, DEVICE, "street", unpaid(3, 2, "29B-222.22", T0))
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    [first, _] = await find_cases(uows, CaseQuery(lot_id="street"))
    assert first.case.status is CaseStatus.OPEN
    clock.at = T0 + timedelta(hours=3)
    told = await notify_case(uows, outbox, f"{DEVICE}:1", by=TESTS)
    again = await notify_case(uows, outbox, f"{DEVICE}:1", by=TESTS)
    assert (told.status, told.notified_at) == (CaseStatus.NOTIFIED, clock.at)
    assert again == told
    [message] = await outbox.messages("anh")
    assert message.template is Template.PARKING_UNPAID
    assert "25,000" in render_english(message)
    assert "24 Nov 2026" in render_english(message)
    # Anh's debt is paid (a top-up, then the declined amount from the wallet): collected.
    async with uows() as uow:
        await uow.ledger.post(
            postings.debt_payment("anh", "parking", Money(25_000, "VND"), clock.at)
        )
        await uow.commit()
    [paid] = await mark_paid_cases(uows)
    assert (paid.session_id, paid.status, paid.resolved_by) == (
        f"{DEVICE}:1", CaseStatus.COLLECTED, "faregate",
    )  # fmt: skip
    assert await mark_paid_cases(uows) == []
    with pytest.raises(CaseError, match="collected already"):
        await write_off_case(uows, f"{DEVICE}:1", reason="late", by=TESTS)
    # Binh's is written off: the debt is reversed, nobody will charge it.
    off = await write_off_case(uows, f"{DEVICE}:3", reason="barrier fault", by=TESTS)
    assert (off.status, off.resolved_by, off.resolution) == (
        CaseStatus.WRITTEN_OFF, "tests", "barrier fault",
    )  # fmt: skip
    async with uows() as uow:
        owed = (await uow.ledger.accounts([accounts.receivable("binh")]))[
            accounts.receivable("binh")
        ]
    assert owed.balance == 0
    page = await read_audit(uows, AuditQuery(action=AuditAction.CASE_UPDATED))
    assert [(e.after or {}).get("status") for e in reversed(page.entries)] == [
        "notified", "collected", "written_off",
    ]  # fmt: skip


async def test_a_case_without_an_account_is_collected_at_the_lot(
    uows: ParkingUnitOfWorkFactory, tmp_path: Path
) -> None:
    await ingest_barrier_batch(uows, DEVICE, "street", unpaid(1, None, "30A-999.99", T0))
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    with pytest.raises(CaseError, match="no account to tell"):
        await notify_case(uows, outbox, f"{DEVICE}:1", by=TESTS)
    with pytest.raises(CaseError, match="say why"):
        await collect_case(uows, f"{DEVICE}:1", note=" ", by=TESTS)
    done = await collect_case(uows, f"{DEVICE}:1", note="paid cash at the kiosk", by=TESTS)
    assert done.status is CaseStatus.COLLECTED
    with pytest.raises(UnknownLot):
        await collect_case(uows, "nothing:1", note="x", by=TESTS)


async def test_cases_are_found_by_plate_lot_day_and_status_and_exported(
    uows: ParkingUnitOfWorkFactory, clock: Clock
) -> None:
    await ingest_barrier_batch(uows, DEVICE, "street", unpaid(1, 1, "30A-111.11", T0))
    clock.at = T0 + timedelta(days=1, hours=3)  # the next day's stay is uploaded that day
    await ingest_barrier_batch(
        uows, DEVICE, "street", unpaid(3, 2, "29B-222.22", T0 + timedelta(days=1))
    )
    lost = BarrierEvent(
        device_id=DEVICE, seq=5, lot_id="street", kind=EventKind.EXIT, at=T0, reason="ok",
        vehicle="car", fee=390_000, currency="VND", collected=0, failure="barrier_offline",
        lost_credential=True,
    )  # fmt: skip
    await ingest_barrier_batch(uows, DEVICE, "street", [lost])
    with pytest.raises(CaseError, match="say why"):
        await write_off_case(uows, f"{DEVICE}:lost-5", reason="", by=TESTS)

    async def found(**query: object) -> list[str]:
        views = await find_cases(uows, CaseQuery(**query))  # type: ignore[arg-type]
        return [v.case.session_id for v in views]

    assert await found(plate="30a 111 11") == [f"{DEVICE}:1"]
    assert await found(day=T0.date()) == [f"{DEVICE}:1", f"{DEVICE}:lost-5"]
    assert await found(lot_id="mall") == []
    assert await found(status=CaseStatus.WRITTEN_OFF) == []
    with pytest.raises(InvalidPlate, match="is not a plate"):
        await found(plate="--")
    views = await find_cases(uows, CaseQuery())
    rows = list(csv.DictReader(io.StringIO(cases_csv(views))))
    assert [r["session"] for r in rows] == [f"{DEVICE}:3", f"{DEVICE}:1", f"{DEVICE}:lost-5"]
    assert rows[0]["plate"] == "29B22222"
    assert (rows[0]["amount"], rows[0]["currency"], rows[0]["status"]) == ("25000", "VND", "open")
    assert rows[0]["left"] == "2026-11-25T10:00:00+07:00"


async def test_an_inspector_checks_plates_at_on_street_lots_and_each_check_is_kept(
    uows: ParkingUnitOfWorkFactory, clock: Clock
) -> None:
    assert [lot.lot_id for lot in await inspection_lots(uows)] == ["street"]
    entry = BarrierEvent(
        device_id=DEVICE, seq=1, lot_id="street", kind=EventKind.ENTRY, at=T0, reason="ok",
        credential_id=1, plate="30A-111.11", vehicle="car",
    )  # fmt: skip
    await ingest_barrier_batch(uows, DEVICE, "street", [entry])
    await sell_permit(
        uows, "street", T0.date().replace(day=1), by=TESTS, plate="29B-222.22", at_counter=True
    )
    clock.at = T0 + timedelta(hours=1)
    parked = await check_plate(uows, "street", "30a-111.11", inspector="insp")
    holder = await check_plate(uows, "street", "29B22222", inspector="insp")
    nobody = await check_plate(uows, "street", "51F-000.01", inspector="insp")
    assert (parked.inspection.result, parked.session and parked.session.session_id) == (
        "session", f"{DEVICE}:1",
    )  # fmt: skip
    assert (holder.inspection.result, holder.permit and holder.permit.plate) == (
        "permit", "29B22222",
    )  # fmt: skip
    assert (nobody.inspection.result, nobody.session, nobody.permit) == ("nothing", None, None)
    checks = await recent_checks(uows, inspector="insp")
    assert [(c.plate, c.result) for c in checks] == [
        ("51F00001", "nothing"), ("29B22222", "permit"), ("30A11111", "session"),
    ]  # fmt: skip
    assert checks[0].at == clock.at
    with pytest.raises(InspectionError, match="lot mall is car-park"):
        await check_plate(uows, "mall", "30A11111", inspector="insp")
    for bad in ("", "3", "30A-123.45-6789-01234"):
        with pytest.raises(InvalidPlate, match="is not a plate"):
            await check_plate(uows, "street", bad, inspector="insp")
    with pytest.raises(UnknownLot):
        await check_plate(uows, "nowhere", "30A11111", inspector="insp")
    assert len(await recent_checks(uows)) == 3


async def test_a_barrier_opened_from_afar_opens_on_its_next_sync_once(
    uows: ParkingUnitOfWorkFactory, clock: Clock, tmp_path: Path
) -> None:
    keys = fixed_key_material(rotated=False)
    barrier = OfflineBarrier(
        DEVICE, Lot(lot_id="street", tariff=load_tariff("hanoi-car")), keys.keyset,
        keys.secure_module(), tmp_path / "j.sqlite", collector=lambda charge: None,
        clock=lambda: clock.at,
    )  # fmt: skip
    async with uows() as uow:  # the barrier's first upload makes it the lot's
        await uow.parking.device_position(DEVICE, "street")
        await uow.commit()
    assert await lot_barriers(uows, "street") == [DEVICE]
    with pytest.raises(RemoteOpenError, match="say why"):
        await open_barrier(uows, "street", DEVICE, reason="", by=TESTS)
    with pytest.raises(RemoteOpenError, match="no barrier 'other'"):
        await open_barrier(uows, "street", "other", reason="stuck", by=TESTS)
    with pytest.raises(RemoteOpenError, match="no barrier"):
        await open_barrier(uows, "mall", DEVICE, reason="stuck", by=TESTS)
    command = await open_barrier(
        uows, "street", DEVICE, reason="ticket machine jammed, driver stuck", by=TESTS
    )
    clock.at = T0 + timedelta(minutes=2)
    async with uows() as uow:
        config = await barrier_configuration(uow, "street", clock.at, device_id=DEVICE)
        other = await barrier_configuration(uow, "street", clock.at, device_id="street-b2")
    assert [c.command_id for c in config.commands] == [command.command_id]
    assert other.commands == ()
    [opened] = barrier.configure(config)
    assert opened.opened
    assert barrier.configure(config) == []  # synced again before its journal went up: once
    records = barrier.journal.records()
    assert [(r.kind.value, r.command_id) for r in records] == [("remote_open", command.command_id)]
    await ingest_barrier_batch(
        uows, DEVICE, "street", [BarrierEvent.from_journal(r) for r in records]
    )
    [done] = await lot_commands(uows, "street")
    assert (done.executed_at, done.executed_seq) == (clock.at, records[0].seq)
    async with uows() as uow:
        after = await barrier_configuration(uow, "street", clock.at, device_id=DEVICE)
    assert after.commands == ()
    page = await read_audit(uows, AuditQuery(action=AuditAction.BARRIER_OPENED))
    [line] = page.entries
    assert (line.target.id, line.reason) == (DEVICE, "ticket machine jammed, driver stuck")
    day = await lot_day(uows, "street", T0.date())
    assert [c.command_id for c in day.remote_opens] == [command.command_id]
