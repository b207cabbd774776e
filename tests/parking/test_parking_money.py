"""Parking sessions with money, on SQLite and PostgreSQL: holds at entry, capture and release at
exit, postpaid fees on the receivable, unable-to-collect cases as debt, idempotent uploads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from parking.errors import BarrierUploadError, UnknownLot
from parking.records import BarrierEvent, EventKind, LotConfig
from parking.services import (
    BarrierUploadResult,
    ingest_barrier_batch,
    receipt,
    receipts,
    sessions_of,
    unable_to_collect_report,
)
from parking.sessions import SessionState
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.parking import open_lot
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.charging import amounts_owed
from ticketing.services.riders import Registration, register_riders

T0 = datetime.fromisoformat("2026-11-30T08:00+07:00")
# The server's clock, stopped after every record: the backend refuses records over 90 days
# old, so a real clock would fail these fixed dates once the calendar moved on.
NOW = T0 + timedelta(days=3)
DEVICE = "barrier-hk-1"
LOT = LotConfig(
    lot_id="hoan-kiem",
    name="Hoan Kiem on-street",
    operator="iparking-hn",
    capacity=40,
    reserved=2,
    passback="hard",
    hold_amount=50_000,
    currency="VND",
)
OPERATOR = accounts.operator("iparking-hn")
CAR = load_tariff("hanoi-car")  # the lot's tariff (tests/helpers/parking.open_lot)
CLEARING = accounts.gateway_clearing("stripe")
RICH, POOR, POSTPAID, EMPTY = 101, 102, 103, 104


@pytest.fixture
async def uows(engine: AsyncEngine) -> ParkingUnitOfWorkFactory:
    factory = ParkingUnitOfWorkFactory(engine, lambda: NOW)
    await open_lot(factory, LOT)
    riders = [
        ("acc-rich", RICH, PaymentMode.PREPAID_WALLET, 200_000),
        ("acc-poor", POOR, PaymentMode.PREPAID_WALLET, 10_000),
        ("acc-post", POSTPAID, PaymentMode.POSTPAID_CARD, 0),
        ("acc-empty", EMPTY, PaymentMode.PREPAID_WALLET, 0),
    ]
    await register_riders(
        factory,
        [
            Registration(
                RiderAccount(account_id, "adult", mode, "VND"),
                [
                    CredentialRecord(
                        credential_id,
                        account_id,
                        T0 - timedelta(days=1),
                        T0 + timedelta(days=60),
                        T0 - timedelta(days=1),
                    )
                ],
            )
            for account_id, credential_id, mode, _ in riders
        ],
        at=T0 - timedelta(days=1),
    )
    async with factory() as uow:
        for account_id, _, _, funds in riders:
            if funds:
                await uow.ledger.post(
                    Posting.transfer(
                        f"topup:{account_id}",
                        debit=CLEARING,
                        credit=accounts.wallet(account_id),
                        amount=Money(funds, "VND"),
                        occurred_at=T0 - timedelta(hours=1),
                    )
                )
        await uow.commit()
    return factory


def entry(
    seq: int, credential_id: int | None, at: datetime, plate: str | None = None
) -> BarrierEvent:
    return BarrierEvent(
        device_id=DEVICE, seq=seq, lot_id=LOT.lot_id, kind=EventKind.ENTRY, at=at, reason="ok",
        credential_id=credential_id, plate=plate, vehicle="car",
    )  # fmt: skip


def exit_(
    seq: int,
    entry_seq: int | None,
    credential_id: int | None,
    at: datetime,
    fee: int,
    failure: str | None = None,
) -> BarrierEvent:
    return BarrierEvent(
        device_id=DEVICE, seq=seq, lot_id=LOT.lot_id, kind=EventKind.EXIT, at=at,
        reason="unable_to_collect" if failure else "closed", session_seq=entry_seq,
        credential_id=credential_id, vehicle="car", tariff_id="hanoi-car", fee=fee,
        currency="VND", collected=0 if failure else fee, failure=failure,
        lost_credential=entry_seq is None,
    )  # fmt: skip


async def upload(
    uows: ParkingUnitOfWorkFactory, events: Sequence[BarrierEvent]
) -> BarrierUploadResult:
    return await ingest_barrier_batch(uows, DEVICE, LOT.lot_id, events)


async def ledger_ok(uows: ParkingUnitOfWorkFactory) -> None:
    async with uows() as uow:
        report = await uow.ledger.check_invariants()
    assert report.ok, report


async def state(uows: ParkingUnitOfWorkFactory, code: str) -> tuple[int, int]:
    """(normal balance, pending debits) of an account."""
    async with uows() as uow:
        account = await uow.ledger.account(code)
    return account.normal_balance.amount, account.pending_debits


async def test_entry_holds_and_exit_captures_the_fee_and_releases_the_rest(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    wallet = accounts.wallet("acc-rich")
    await upload(uows, [entry(1, RICH, T0)])
    assert await state(uows, wallet) == (200_000, 50_000)  # held: not spendable on the metro
    async with uows() as uow:
        assert (await uow.ledger.accounts([wallet]))[wallet].available == 150_000
    await ledger_ok(uows)

    await upload(uows, [exit_(2, 1, RICH, T0 + timedelta(hours=1), 25_000)])
    assert await state(uows, wallet) == (175_000, 0)
    assert (await state(uows, OPERATOR))[0] == 25_000
    [session] = await sessions_of(uows, LOT.lot_id)
    assert (session.status, session.fee, session.collected) == (SessionState.CLOSED, 25_000, 25_000)
    paid = await receipt(uows, session.session_id)
    assert paid is not None
    assert (paid.amount, paid.currency, paid.operator, paid.lot_name) == (
        25_000, "VND", "iparking-hn", "Hoan Kiem on-street",
    )  # fmt: skip
    assert paid.posting_id == "parking-hold:barrier-hk-1:1:capture"
    assert (await unable_to_collect_report(uows)).count == 0
    await ledger_ok(uows)


async def test_a_fee_above_the_hold_takes_the_wallet_then_becomes_debt_never_below_the_floor(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    wallet = accounts.wallet("acc-poor")
    await upload(uows, [entry(1, POOR, T0)])
    assert await state(uows, wallet) == (10_000, 10_000)  # the hold is what the wallet has
    overnight = T0 + timedelta(hours=26)
    price = CAR.quote("car", T0, overnight).amount  # the backend's, whatever the barrier says
    result = await upload(uows, [exit_(2, 1, POOR, overnight, 290_000)])
    assert result.cases == 1
    assert await state(uows, wallet) == (0, 0)  # at its floor, never below
    owed = price - 10_000
    assert await amounts_owed(uows, ["acc-poor"]) == {"acc-poor": Money(owed, "VND")}
    assert (await state(uows, OPERATOR))[0] == price  # the operator is owed all of it
    report = await unable_to_collect_report(uows, LOT.lot_id)
    [case] = report.cases
    assert (case.amount, case.reason, case.account_id) == (owed, "insufficient_funds", "acc-poor")
    assert case.debt_posting_id == "parking:barrier-hk-1:1:rest"
    assert report.totals == {"VND": owed}
    [session] = await sessions_of(uows)
    assert (session.status, session.collected, session.receipt_no) == (
        SessionState.UNABLE_TO_COLLECT, 10_000, None,
    )  # fmt: skip
    await ledger_ok(uows)


@pytest.mark.parametrize(
    ("funds_seq", "minutes"), [(EMPTY, 90), (RICH, 0), (RICH, 180), (EMPTY, 26 * 60)]
)
async def test_wallets_stay_within_their_floor(
    uows: ParkingUnitOfWorkFactory, funds_seq: int, minutes: int
) -> None:
    leave = T0 + timedelta(minutes=minutes)
    fee = CAR.quote("car", T0, leave).amount if minutes else 0
    await upload(uows, [entry(1, funds_seq, T0), exit_(2, 1, funds_seq, leave, fee)])
    async with uows() as uow:
        for account_id in ("acc-rich", "acc-empty"):
            state_ = await uow.ledger.account(accounts.wallet(account_id))
            assert state_.available >= 0  # balance and holds within the overdraft limit (0)
            assert state_.pending_debits == 0
        report = await uow.ledger.check_invariants()
    assert report.ok, report
    owed = await amounts_owed(uows, ["acc-empty"])
    assert owed == ({"acc-empty": Money(fee, "VND")} if funds_seq == EMPTY and fee else {})


async def test_postpaid_fees_join_the_daily_charge_without_a_hold(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    await upload(uows, [entry(1, POSTPAID, T0)])
    async with uows() as uow:
        assert (await uow.parking.get_session(f"{DEVICE}:1")).hold_id is None
    await upload(uows, [exit_(2, 1, POSTPAID, T0 + timedelta(hours=3), 60_000)])
    assert await amounts_owed(uows, ["acc-post"]) == {"acc-post": Money(60_000, "VND")}
    assert (await state(uows, OPERATOR))[0] == 60_000
    [paid] = await receipts(uows)
    assert (paid.amount, paid.account_id, paid.posting_id) == (
        60_000, "acc-post", "parking:barrier-hk-1:1",
    )  # fmt: skip
    await ledger_ok(uows)


async def test_a_barrier_that_could_not_collect_releases_the_hold_and_makes_debt(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    wallet = accounts.wallet("acc-rich")
    await upload(
        uows,
        [
            entry(1, RICH, T0),
            exit_(2, 1, RICH, T0 + timedelta(hours=1), 25_000, failure="barrier_offline"),
        ],
    )
    assert await state(uows, wallet) == (200_000, 0)  # released, nothing taken
    assert await amounts_owed(uows, ["acc-rich"]) == {"acc-rich": Money(25_000, "VND")}
    report = await unable_to_collect_report(uows)
    assert report.by_reason == {"barrier_offline": 1}
    assert report.cases[0].debt_posting_id == "parking:barrier-hk-1:1:debt"
    await ledger_ok(uows)


async def test_a_lost_credential_without_a_match_is_a_case_nobody_is_billed_for(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    lost = exit_(1, None, None, T0, 390_000, failure="barrier_offline")
    await upload(uows, [lost])
    [case] = (await unable_to_collect_report(uows)).cases
    assert (case.session_id, case.account_id, case.debt_posting_id, case.amount) == (
        f"{DEVICE}:lost-1", None, None, 390_000,
    )  # fmt: skip
    [session] = await sessions_of(uows)
    assert session.lost_credential
    await ledger_ok(uows)


async def test_uploads_are_idempotent_and_overlaps_apply_only_what_is_new(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    first = [entry(1, RICH, T0), entry(2, POSTPAID, T0 + timedelta(minutes=1))]
    done = await upload(uows, first)
    assert (done.applied, done.duplicate, done.last_seq, done.entries) == (2, 0, 2, 2)
    again = await upload(uows, first)
    assert again.no_op
    assert (again.applied, again.duplicate, again.last_seq) == (0, 2, 2)
    overlap = [first[1], exit_(3, 1, RICH, T0 + timedelta(hours=1), 25_000)]
    more = await upload(uows, overlap)
    assert (more.applied, more.duplicate, more.last_seq, more.exits) == (1, 1, 3, 1)
    assert (await state(uows, accounts.wallet("acc-rich"))) == (175_000, 0)
    async with uows() as uow:
        assert await uow.parking.events_count(DEVICE) == 3
        assert await uow.parking.count_open(LOT.lot_id) == 1
    await ledger_ok(uows)


async def test_bad_uploads_apply_nothing(uows: ParkingUnitOfWorkFactory) -> None:
    with pytest.raises(BarrierUploadError, match="an exit needs its fee"):
        await upload(uows, [entry(1, RICH, T0), replace(exit_(2, 1, RICH, T0, 0), fee=None)])
    with pytest.raises(BarrierUploadError, match="seq appears twice"):
        await upload(uows, [entry(1, RICH, T0), entry(1, RICH, T0)])
    with pytest.raises(BarrierUploadError, match="not other at hoan-kiem"):
        await ingest_barrier_batch(uows, "other", LOT.lot_id, [entry(1, RICH, T0)])
    with pytest.raises(UnknownLot):
        await ingest_barrier_batch(uows, DEVICE, "nowhere", [])
    with pytest.raises(BarrierUploadError, match="already closed"):
        await upload(uows, [entry(1, RICH, T0), exit_(2, 1, RICH, T0, 0), exit_(3, 1, RICH, T0, 0)])
    async with uows() as uow:
        assert await uow.parking.events_count(DEVICE) == 0
        assert await uow.parking.count_open(LOT.lot_id) == 0
    # The barrier is registered to its lot on first upload; another lot is refused.
    await upload(uows, [entry(1, RICH, T0)])
    await open_lot(uows, replace(LOT, lot_id="mall"))
    with pytest.raises(BarrierUploadError, match="belongs to lot hoan-kiem"):
        await ingest_barrier_batch(
            uows, DEVICE, "mall", [replace(entry(2, RICH, T0), lot_id="mall")]
        )
