"""The backend decides what a stay costs and refuses impossible barrier records, on SQLite and
PostgreSQL: every exit priced again from the lot's tariff version in force at its entry, the
barrier's fee not believed; an exit before its entry, a time far from the server's clock or
before the barrier's enrolment, a sequence number that leaps or a fee above any tariff's are
refused, nothing of the upload applied, and a refused seq of 2**63 - 1 does not stop later
uploads."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from parking.errors import ImpossibleRecord
from parking.records import BarrierEvent, EventKind
from parking.services import ingest_barrier_batch, sessions_of
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.parking import lot_config, open_lot
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.charging import amounts_owed
from ticketing.services.riders import Registration, register_riders

T0 = datetime.fromisoformat("2026-11-30T08:00+07:00")
NOW = T0 + timedelta(days=1)  # the server's clock: the uploads come the next day
DEVICE = "barrier-records"
LOT = "records-lot"
CAR = load_tariff("hanoi-car")  # open_lot's tariff
CREDENTIAL = 5150


@pytest.fixture
async def uows(engine: AsyncEngine) -> ParkingUnitOfWorkFactory:
    factory = ParkingUnitOfWorkFactory(engine, lambda: NOW)
    await open_lot(ParkingUnitOfWorkFactory(engine, lambda: T0 - timedelta(days=1)),
                   lot_config(LOT))  # fmt: skip
    at = T0 - timedelta(days=2)
    await register_riders(
        factory,
        [
            Registration(
                RiderAccount("acc-rec", "adult", PaymentMode.POSTPAID_CARD, "VND"),
                [CredentialRecord(CREDENTIAL, "acc-rec", at, T0 + timedelta(days=30), at)],
            )
        ],
        at=at,
    )
    return factory


def entry(seq: int, at: datetime) -> BarrierEvent:
    return BarrierEvent(
        device_id=DEVICE, seq=seq, lot_id=LOT, kind=EventKind.ENTRY, at=at, reason="ok",
        credential_id=CREDENTIAL, vehicle="car",
    )  # fmt: skip


def exit_(seq: int, entry_seq: int | None, at: datetime, fee: int) -> BarrierEvent:
    return BarrierEvent(
        device_id=DEVICE, seq=seq, lot_id=LOT, kind=EventKind.EXIT, at=at, reason="closed",
        session_seq=entry_seq, credential_id=CREDENTIAL, vehicle="car", tariff_id="hanoi-car",
        fee=fee, currency="VND", collected=fee, lost_credential=entry_seq is None,
    )  # fmt: skip


async def _applied(uows: ParkingUnitOfWorkFactory) -> int:
    async with uows() as uow:
        return await uow.parking.events_count(DEVICE)


async def test_the_backend_prices_the_stay_whatever_the_barrier_says(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    leave = T0 + timedelta(hours=3)
    price = CAR.quote("car", T0, leave).amount
    await ingest_barrier_batch(uows, DEVICE, LOT, [entry(1, T0), exit_(2, 1, leave, 1)])
    [session] = await sessions_of(uows)
    assert session.fee == price
    assert await amounts_owed(uows, ["acc-rec"]) == {"acc-rec": Money(price, "VND")}
    async with uows() as uow:
        operator = await uow.ledger.account(accounts.operator("iparking-hanoi"))
    assert operator.normal_balance.amount == price


@pytest.mark.parametrize(
    ("events", "message"),
    [
        # an exit an hour before its entry captured its fee
        ([entry(1, T0), exit_(2, 1, T0 - timedelta(hours=1), 25_000)], "before its entry"),
        # an exit with no entry and 1,000,000,000 VND drained a wallet
        ([exit_(1, None, T0, 1_000_000_000)], "above what any tariff"),
        ([entry(1, T0), exit_(2, 1, T0 + timedelta(hours=1), 2**62)], "above what any tariff"),
        ([entry(1, datetime.fromisoformat("2099-01-01T08:00+07:00"))], "a day ahead"),
        ([entry(1, datetime.fromisoformat("2000-01-01T08:00+07:00"))], "90 days old"),
        ([entry(2**63 - 1, T0)], "leaps"),
        ([entry(1, T0), entry(1_000_002 + 1, T0)], "leaps"),
    ],
)
async def test_impossible_records_are_refused_and_nothing_is_applied(
    uows: ParkingUnitOfWorkFactory, events: list[BarrierEvent], message: str
) -> None:
    with pytest.raises(ImpossibleRecord, match=message):
        await ingest_barrier_batch(uows, DEVICE, LOT, events)
    assert await _applied(uows) == 0
    assert await sessions_of(uows) == []


async def test_a_record_dated_before_the_barrier_was_enrolled_is_refused(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    enrolled = T0 + timedelta(hours=1)
    with pytest.raises(ImpossibleRecord, match="before the barrier was enrolled"):
        await ingest_barrier_batch(uows, DEVICE, LOT, [entry(1, T0)], enrolled_at=enrolled)
    assert await _applied(uows) == 0
    # within the clock error a signed request may have (5 minutes), it is applied
    early = enrolled - timedelta(minutes=4)
    done = await ingest_barrier_batch(uows, DEVICE, LOT, [entry(1, early)], enrolled_at=enrolled)
    assert (done.applied, done.entries) == (1, 1)


async def test_a_refused_huge_seq_does_not_stop_later_uploads(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    await ingest_barrier_batch(uows, DEVICE, LOT, [entry(1, T0)])
    with pytest.raises(ImpossibleRecord, match="leaps"):
        await ingest_barrier_batch(uows, DEVICE, LOT, [entry(2**63 - 1, T0)])
    leave = T0 + timedelta(hours=1)
    done = await ingest_barrier_batch(uows, DEVICE, LOT, [exit_(2, 1, leave, 25_000)])
    assert (done.applied, done.last_seq, done.exits) == (1, 2, 1)
    assert await _applied(uows) == 2
