"""The barrier's session rules reach the database as decided: soft anti-passback closes the
earlier stay and charges it, a lost credential is found by plate, refusals are kept as events,
and the same upload sent twice at once is applied once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from parking.records import BarrierEvent, LotConfig
from parking.services import (
    ingest_barrier_batch,
    receipts,
    sessions_of,
    unable_to_collect_report,
)
from parking.sessions import Lot, SessionState
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.issue import issue_credential
from qr.vectors import fixed_key_material
from simulators.barrier import OfflineBarrier
from tests.helpers.parking import open_lot
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.charging import amounts_owed
from ticketing.services.riders import Registration, register_riders

T0 = datetime.fromisoformat("2026-11-30T08:00+07:00")
# The server's clock, stopped after every record: the backend refuses records over 90 days
# old, so a real clock would fail these fixed dates once the calendar moved on.
NOW = T0 + timedelta(days=3)
CAR = load_tariff("hanoi-car")
MALL = LotConfig(
    lot_id="vincom", name="Vincom", operator="vincom-parking", capacity=50, reserved=0,
    passback="soft", hold_amount=0,
    currency="VND",
)  # fmt: skip


async def test_soft_passback_lost_credential_and_refusals(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    uows = ParkingUnitOfWorkFactory(engine, lambda: NOW)
    await open_lot(uows, MALL)
    registered = T0 - timedelta(days=1)
    await register_riders(
        uows,
        [
            Registration(
                RiderAccount("acc-1", "adult", PaymentMode.POSTPAID_CARD, "VND"),
                [CredentialRecord(11, "acc-1", registered, T0 + timedelta(days=9), registered)],
            )
        ],
        at=registered,
    )
    keys = fixed_key_material(rotated=False)
    barrier = OfflineBarrier(
        "barrier-vincom", Lot(lot_id="vincom", tariff=CAR, passback="soft"), keys.keyset,
        keys.secure_module(), tmp_path / "j.sqlite", collector=lambda charge: None,
        clock=lambda: T0,
    )  # fmt: skip
    phone = issue_credential(keys, credential_id=11, product="WALLET", now=registered)
    stranger = issue_credential(keys, credential_id=99, product="WALLET", now=registered)
    assert barrier.present_entry(phone.token_at(T0), T0, plate="30A-111.11").opened
    # Back in 3 hours later without an exit: the soft lot admits and charges the first stay.
    again = T0 + timedelta(hours=3)
    assert barrier.present_entry(phone.token_at(again), again, plate="30A-111.11").opened
    # An exit without an entry is refused; the phone is lost, the plate finds the session.
    late = T0 + timedelta(hours=4)
    assert not barrier.present_exit(stranger.token_at(late), late).opened
    assert barrier.lost_credential_exit("30a 111 11", late).opened
    records = barrier.journal.records(0)
    events = [BarrierEvent.from_journal(r) for r in records]

    # The same upload sent twice at once (a retry racing the first): applied once.
    first, second = await asyncio.gather(
        ingest_barrier_batch(uows, "barrier-vincom", "vincom", events),
        ingest_barrier_batch(uows, "barrier-vincom", "vincom", events),
    )
    assert sorted([first.applied, second.applied]) == [0, len(events)]
    assert first.last_seq == second.last_seq == records[-1].seq

    sessions = {s.session_id: s for s in await sessions_of(uows, "vincom")}
    earlier, later = sorted(sessions.values(), key=lambda s: s.entry_at)
    # The earlier stay ended at the second entry, charged like an exit.
    assert (earlier.status, earlier.fee, earlier.exit_at) == (SessionState.CLOSED, 60_000, again)
    assert later.passback_violation
    assert (later.status, later.fee) == (SessionState.CLOSED, 25_000)  # found by its plate
    assert await amounts_owed(uows, ["acc-1"]) == {"acc-1": Money(85_000, "VND")}
    assert len(await receipts(uows, "vincom")) == 2
    assert (await unable_to_collect_report(uows)).count == 0
    async with uows() as uow:
        assert await uow.parking.events_count("barrier-vincom") == len(events)
        assert (await uow.ledger.balance(accounts.operator("vincom-parking"))).amount == 85_000
        assert (await uow.ledger.check_invariants()).ok
    barrier.close()
