"""A barrier offline for hours, end to end in-process: sessions journaled and priced offline,
uploaded later exactly once, money posted, and the live occupancy (in the Redis at
127.0.0.1:6379 and in a private redis-server) converging to the sessions' count."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from faregate.redis_runtime import private_redis
from parking.occupancy import Occupancy
from parking.records import BarrierEvent, LotConfig
from parking.services import (
    ingest_barrier_batch,
    receipts,
    resync_occupancy,
    sessions_of,
    unable_to_collect_report,
)
from parking.sessions import Lot, SessionState
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.issue import issue_credential
from qr.vectors import fixed_key_material
from simulators.barrier import Charge, OfflineBarrier
from tests.helpers.parking import open_lot
from tests.helpers.redis import LOCAL_REDIS
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders

T0 = datetime.fromisoformat("2026-11-30T06:30+07:00")
# The server's clock, stopped after every record: the backend refuses records over 90 days
# old, so a real clock would fail these fixed dates once the calendar moved on.
NOW = T0 + timedelta(days=3)
CAR = load_tariff("hanoi-car")
CARS = 6


@pytest.fixture(params=["local", "private"])
async def redis(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Redis]:
    if request.param == "local":
        client = Redis.from_url(LOCAL_REDIS)
        try:
            yield client
        finally:
            await client.aclose()
        return
    async with private_redis(tmp_path / "redis") as server:
        client = Redis.from_url(server.url)
        try:
            yield client
        finally:
            await client.aclose()


async def test_hours_offline_then_uploaded_once_and_occupancy_converges(
    engine: AsyncEngine, redis: Redis, tmp_path: Path
) -> None:
    uows = ParkingUnitOfWorkFactory(engine, lambda: NOW)
    lot_id = f"hoan-kiem-{uuid.uuid4().hex[:8]}"
    occupancy = Occupancy(redis, prefix=f"faregate-test:{uuid.uuid4().hex}:")
    config = LotConfig(
        lot_id=lot_id, name="Hoan Kiem", operator="iparking-hn", capacity=20, reserved=2,
        passback="hard", hold_amount=50_000,
        currency="VND",
    )  # fmt: skip
    await open_lot(uows, config, occupancy=occupancy)
    registered = T0 - timedelta(days=1)
    await register_riders(
        uows,
        [
            Registration(
                RiderAccount(f"acc-{n}", "adult", PaymentMode.PREPAID_WALLET, "VND"),
                [
                    CredentialRecord(
                        900 + n, f"acc-{n}", registered, T0 + timedelta(days=9), registered
                    )
                ],
            )
            for n in range(CARS)
        ],
        at=registered,
    )
    async with uows() as uow:
        for n in range(CARS):
            await uow.ledger.post(
                Posting.transfer(
                    f"topup:{n}",
                    debit=accounts.gateway_clearing("stripe"),
                    credit=accounts.wallet(f"acc-{n}"),
                    amount=Money(300_000, "VND"),
                    occurred_at=registered,
                )
            )
        await uow.commit()

    keys = fixed_key_material(rotated=False)
    taken: list[Charge] = []
    barrier = OfflineBarrier(
        "barrier-hk-7", Lot(lot_id=lot_id, tariff=CAR), keys.keyset, keys.secure_module(),
        tmp_path / "journal.sqlite", collector=lambda charge: taken.append(charge),
        clock=lambda: T0,
    )  # fmt: skip
    phones = [
        issue_credential(keys, credential_id=900 + n, product="WALLET", now=registered)
        for n in range(CARS)
    ]
    # Online: two cars in, counted live; the journal goes up at once.
    for n in range(2):
        at = T0 + timedelta(minutes=n)
        admitted = await occupancy.enter(lot_id)
        assert barrier.present_entry(phones[n].token_at(at), at, room=admitted.admitted).opened

    async def upload() -> int:
        records = barrier.journal.records(barrier.journal.cursor(barrier.device_id))
        if not records:
            return 0
        result = await ingest_barrier_batch(
            uows,
            barrier.device_id,
            lot_id,
            [BarrierEvent.from_journal(r) for r in records],
            occupancy=occupancy,
        )
        barrier.journal.advance_cursor(barrier.device_id, result.last_seq)
        return result.applied

    assert await upload() == 2
    assert (await occupancy.snapshot(lot_id)).occupied == 2

    # Offline from 07:00 to 12:00: four more in, three out (priced offline, not collected);
    # nothing reaches Redis.
    barrier.online = False
    for n in range(2, CARS):
        at = T0 + timedelta(minutes=30 + n)
        assert barrier.present_entry(phones[n].token_at(at), at).opened
    for n in (0, 2, 3):
        at = T0 + timedelta(hours=3, minutes=n)
        decision = barrier.present_exit(phones[n].token_at(at), at)
        assert decision.opened
        assert decision.fee is not None
        assert decision.fee.amount == 60_000
    assert (await occupancy.snapshot(lot_id)).occupied == 2  # stale while offline

    # Back online: the journal goes up once; the count converges to the open sessions.
    assert await upload() == 7
    assert await upload() == 0
    async with uows() as uow:
        open_sessions = await uow.parking.count_open(lot_id)
        assert (await uow.ledger.check_invariants()).ok
    assert open_sessions == CARS - 3
    assert (await occupancy.snapshot(lot_id)).occupied == open_sessions

    # Online again: car 1 leaves at 11:31, collected from its hold and wallet; a receipt.
    barrier.online = True
    at = T0 + timedelta(hours=5)
    assert barrier.present_exit(phones[1].token_at(at), at).opened
    await occupancy.exit(lot_id)
    assert await upload() == 1
    assert len(taken) == 1
    [paid] = await receipts(uows, lot_id)
    assert (paid.amount, paid.account_id) == (105_000, "acc-1")
    report = await unable_to_collect_report(uows, lot_id)
    assert report.by_reason == {"barrier_offline": 3}
    sessions = await sessions_of(uows, lot_id)
    assert sum(s.status is SessionState.OPEN for s in sessions) == 2
    # A Redis drifted by anything converges again from the sessions.
    await occupancy.correct(lot_id, 17)
    assert (await resync_occupancy(uows, occupancy, lot_id)).occupied == 2
    async with uows() as uow:
        assert (await uow.ledger.check_invariants()).ok
        wallet = await uow.ledger.account(accounts.wallet("acc-1"))
    # 105,000 fee > 50,000 hold: the hold captured, the rest from the wallet.
    assert (wallet.normal_balance.amount, wallet.pending_debits) == (195_000, 0)
    await occupancy.forget(lot_id)
    barrier.close()
