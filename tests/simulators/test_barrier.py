"""The offline barrier: QR at both lanes, fees from the synced tariff, journal, upload once."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from parking.occupancy import Occupancy
from parking.sessions import CollectFailure, Lot
from parking.tariff_files import load_tariff
from qr.decision import Reason
from qr.issue import PhoneCredential, issue_credential
from qr.keys import KeyMaterial
from qr.vectors import fixed_key_material
from simulators.barrier import (
    BarrierRecord,
    Charge,
    EventKind,
    OfflineBarrier,
    Refusal,
    UploadBatch,
    batch_to_wire,
    record_to_wire,
)
from simulators.errors import BarrierError
from tests.helpers.redis import LOCAL_REDIS

T0 = datetime.fromisoformat("2026-11-30T08:00+07:00")
CAR = load_tariff("hanoi-car")
LOT = Lot(lot_id="hoan-kiem-1", tariff=CAR, passback="hard")


@pytest.fixture(scope="module")
def keys() -> KeyMaterial:
    return fixed_key_material(rotated=False)


def phone(keys: KeyMaterial, credential_id: int) -> PhoneCredential:
    return issue_credential(
        keys, credential_id=credential_id, product="WALLET", now=T0 - timedelta(days=1)
    )


class Wallet:
    """A collector: takes charges while the balance lasts, refuses with insufficient funds."""

    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.charges: list[Charge] = []

    def __call__(self, charge: Charge) -> CollectFailure | None:
        if charge.amount > self.balance:
            return CollectFailure.INSUFFICIENT_FUNDS
        self.balance -= charge.amount
        self.charges.append(charge)
        return None


class Receiver:
    """The backend's side of an upload: keeps (device_id, seq) unique, acks what it holds."""

    def __init__(self, *, drop_ack_once: bool = False) -> None:
        self.stored: dict[tuple[str, int], BarrierRecord] = {}
        self.deliveries = 0
        self._drop_ack = drop_ack_once

    async def __call__(self, batch: UploadBatch) -> int:
        self.deliveries += 1
        for record in batch.records:
            self.stored.setdefault((record.device_id, record.seq), record)
        if self._drop_ack:
            self._drop_ack = False
            raise ConnectionError("connection lost before the acknowledgement")
        return max(seq for device, seq in self.stored if device == batch.device_id)

    def open_sessions(self, lot_id: str) -> int:
        records = [r for r in self.stored.values() if r.lot_id == lot_id]
        closed = {(r.device_id, r.session_seq) for r in records if r.kind is EventKind.EXIT}
        entries = [r for r in records if r.kind is EventKind.ENTRY]
        return sum(1 for r in entries if (r.device_id, r.seq) not in closed)


def barrier(
    keys: KeyMaterial, journal: Path, collector: Wallet | None = None, lot: Lot = LOT
) -> OfflineBarrier:
    return OfflineBarrier(
        "HK1-B1", lot, keys.keyset, keys.secure_module(), journal, collector=collector,
        clock=lambda: T0,
    )  # fmt: skip


def test_entry_then_exit_collects_the_tariff_fee(keys: KeyMaterial, tmp_path: Path) -> None:
    wallet = Wallet(100_000)
    b = barrier(keys, tmp_path / "b.sqlite", wallet)
    driver = phone(keys, 41)
    entry = b.present_entry(driver.token_at(T0), T0, plate="30A-123.45")
    assert (entry.opened, entry.kind) == (True, EventKind.ENTRY)
    assert entry.session is not None
    assert entry.session.session_id == "HK1-B1:1"
    out_at = T0 + timedelta(hours=2, minutes=30)
    exit_ = b.present_exit(driver.token_at(out_at), out_at)
    assert exit_.opened
    assert exit_.fee is not None
    assert (exit_.fee.amount, exit_.reason, exit_.failure) == (60_000, "closed", None)
    assert wallet.balance == 40_000
    assert wallet.charges[0].session_id == "HK1-B1:1"
    records = b.journal.records()
    assert [(r.kind, r.reason) for r in records] == [
        (EventKind.ENTRY, "ok"),
        (EventKind.EXIT, "closed"),
    ]
    assert (records[1].fee, records[1].collected, records[1].tariff_id) == (
        60_000, 60_000, "hanoi-car",
    )  # fmt: skip
    assert records[1].session_id == records[0].session_id
    assert b.open_sessions == []
    b.close()


def test_hard_passback_and_replays(keys: KeyMaterial, tmp_path: Path) -> None:
    b = barrier(keys, tmp_path / "b.sqlite", Wallet(10**6))
    driver = phone(keys, 42)
    token = driver.token_at(T0)
    assert b.present_entry(token, T0).opened
    # The screenshot of the entry code, shown again at either lane.
    assert b.present_entry(token, T0 + timedelta(seconds=3)).reason == Reason.REPLAYED.value
    assert b.present_exit(token, T0 + timedelta(seconds=3)).reason == Reason.REPLAYED.value
    later = T0 + timedelta(minutes=10)
    second = b.present_entry(driver.token_at(later), later)
    assert (second.opened, second.reason) == (False, Refusal.PASSBACK.value)
    b.close()


def test_soft_passback_admits_and_charges_the_earlier_stay(
    keys: KeyMaterial, tmp_path: Path
) -> None:
    wallet = Wallet(10**6)
    soft = Lot(lot_id="soft-lot", tariff=CAR, passback="soft")
    b = barrier(keys, tmp_path / "b.sqlite", wallet, soft)
    driver = phone(keys, 43)
    b.present_entry(driver.token_at(T0), T0)
    later = T0 + timedelta(hours=1)
    again = b.present_entry(driver.token_at(later), later)
    assert again.opened
    assert again.session is not None
    assert again.session.passback_violation
    assert [c.amount for c in wallet.charges] == [25_000]
    assert len(b.open_sessions) == 1
    b.close()


def test_full_lot_and_unknown_exit(keys: KeyMaterial, tmp_path: Path) -> None:
    b = barrier(keys, tmp_path / "b.sqlite")
    driver = phone(keys, 44)
    full = b.present_entry(driver.token_at(T0), T0, room=False)
    assert (full.opened, full.reason) == (False, Refusal.LOT_FULL.value)
    nothing = b.present_exit(driver.token_at(T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    assert (nothing.opened, nothing.reason) == (False, Refusal.NO_OPEN_SESSION.value)
    b.close()


async def test_barrier_offline_for_hours(keys: KeyMaterial, tmp_path: Path) -> None:
    """Sessions journaled, fees computed offline, exits unable to collect, uploaded once."""
    b = barrier(keys, tmp_path / "b.sqlite", collector=None)
    drivers = [phone(keys, 100 + n) for n in range(5)]
    for n, driver in enumerate(drivers):
        at = T0 + timedelta(minutes=n)
        assert b.present_entry(driver.token_at(at), at).opened
    fees = []
    for n, driver in enumerate(drivers[:3]):
        at = T0 + timedelta(hours=1 + 2 * n, minutes=30)
        decision = b.present_exit(driver.token_at(at), at)
        assert decision.opened
        assert decision.failure is CollectFailure.BARRIER_OFFLINE
        assert decision.reason == "unable_to_collect"
        assert decision.fee is not None
        fees.append(decision.fee.amount)
    assert fees == [25_000, 60_000, 105_000]
    receiver = Receiver(drop_ack_once=True)
    with pytest.raises(ConnectionError):
        await b.upload(receiver, batch_size=3)
    assert b.journal.cursor("HK1-B1") == 0  # the ack was lost: nothing counts as sent
    assert await b.upload(receiver, batch_size=3) == 8
    assert await b.upload(receiver) == 0  # nothing new
    assert sorted(seq for _, seq in receiver.stored) == list(range(1, 9))
    assert receiver.deliveries == 4  # the lost batch, then three batches of up to 3
    unable = [r for r in receiver.stored.values() if r.failure is CollectFailure.BARRIER_OFFLINE]
    assert [r.fee for r in unable] == fees
    assert receiver.open_sessions("hoan-kiem-1") == 2
    b.close()


async def test_upload_cursor_survives_a_restart(keys: KeyMaterial, tmp_path: Path) -> None:
    journal = tmp_path / "b.sqlite"
    b = barrier(keys, journal)
    driver = phone(keys, 45)
    b.present_entry(driver.token_at(T0), T0)
    receiver = Receiver()
    assert await b.upload(receiver) == 1
    b.close()
    restarted = barrier(keys, journal)
    assert [s.credential_id for s in restarted.open_sessions] == [45]
    # The replay memory came back too.
    assert restarted.present_entry(driver.token_at(T0), T0).reason == Reason.REPLAYED.value
    assert await restarted.upload(receiver) == 1  # only the refusal is new
    assert sorted(seq for _, seq in receiver.stored) == [1, 2]
    restarted.close()


async def test_receiver_acknowledging_what_was_never_sent(
    keys: KeyMaterial, tmp_path: Path
) -> None:
    b = barrier(keys, tmp_path / "b.sqlite")
    b.present_entry(phone(keys, 46).token_at(T0), T0)

    async def acknowledge_seven(batch: UploadBatch) -> int:
        return 7

    with pytest.raises(BarrierError, match="acknowledged seq 7"):
        await b.upload(acknowledge_seven)
    assert b.journal.cursor("HK1-B1") == 0
    b.close()


def test_lost_credential_by_plate_or_lost_price(keys: KeyMaterial, tmp_path: Path) -> None:
    wallet = Wallet(10**6)
    b = barrier(keys, tmp_path / "b.sqlite", wallet)
    b.present_entry(phone(keys, 47).token_at(T0), T0, plate="30A-123.45")
    at = T0 + timedelta(hours=2)
    found = b.lost_credential_exit("30a 12345", at)
    assert found.fee is not None
    assert found.fee.amount == 25_000
    assert found.session is not None
    assert found.session.credential_id == 47
    unknown = b.lost_credential_exit("29B-999.99", at)
    assert unknown.fee is not None
    assert unknown.fee.lost_credential
    assert unknown.fee.amount == CAR.lost_credential
    assert [c.amount for c in wallet.charges] == [25_000, CAR.lost_credential]
    assert b.journal.records()[-1].lost_credential
    b.close()


def test_declined_payment_lets_the_car_out(keys: KeyMaterial, tmp_path: Path) -> None:
    b = barrier(keys, tmp_path / "b.sqlite", Wallet(1_000))
    driver = phone(keys, 48)
    b.present_entry(driver.token_at(T0), T0)
    at = T0 + timedelta(hours=1)
    decision = b.present_exit(driver.token_at(at), at)
    assert (decision.opened, decision.failure) == (True, CollectFailure.INSUFFICIENT_FUNDS)
    assert b.journal.records()[-1].collected == 0
    b.close()


def test_barrier_imports_no_ticketing() -> None:
    code = (
        "import sys, simulators.barrier; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ticketing', 'faregate')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
async def occupancy() -> AsyncIterator[Occupancy]:
    client = Redis.from_url(LOCAL_REDIS)
    prefix = f"faregate-test:{uuid.uuid4().hex}:"
    try:
        yield Occupancy(client, prefix=prefix)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_occupancy_converges_to_the_sessions_after_an_offline_barrier(
    keys: KeyMaterial, tmp_path: Path, occupancy: Occupancy
) -> None:
    await occupancy.configure("hoan-kiem-1", capacity=50)
    online = barrier(keys, tmp_path / "online.sqlite", Wallet(10**7))
    # The online lane counts in Redis as it goes: two in.
    for n in range(2):
        at = T0 + timedelta(minutes=n)
        admission = await occupancy.enter("hoan-kiem-1")
        assert online.present_entry(
            phone(keys, 200 + n).token_at(at), at, room=admission.admitted
        ).opened
    # A second barrier of the lot is offline for hours: four in, one out, Redis sees none.
    offline = OfflineBarrier(
        "HK1-B2", LOT, keys.keyset, keys.secure_module(), tmp_path / "offline.sqlite",
        clock=lambda: T0,
    )  # fmt: skip
    for n in range(4):
        at = T0 + timedelta(hours=1, minutes=n)
        assert offline.present_entry(phone(keys, 300 + n).token_at(at), at).opened
    at = T0 + timedelta(hours=5)
    assert offline.present_exit(phone(keys, 300).token_at(at), at).opened
    assert (await occupancy.snapshot("hoan-kiem-1")).occupied == 2
    receiver = Receiver()
    await online.upload(receiver)
    await offline.upload(receiver)
    corrected = await occupancy.correct("hoan-kiem-1", receiver.open_sessions("hoan-kiem-1"))
    assert corrected.occupied == 2 + 3
    online.close()
    offline.close()


async def test_upload_resends_after_a_lost_acknowledgement(
    keys: KeyMaterial, tmp_path: Path
) -> None:
    gate = barrier(keys, tmp_path / "j.sqlite")
    driver = phone(keys, 31)
    assert gate.present_entry(driver.token_at(T0), T0, plate="30A-1").opened
    later = T0 + timedelta(hours=2)
    assert gate.present_exit(driver.token_at(later), later).opened
    held: dict[int, dict[str, object]] = {}
    lose_next_ack = True

    async def receiver(batch: UploadBatch) -> int:
        nonlocal lose_next_ack
        for record in batch.records:
            held.setdefault(record.seq, record_to_wire(record))
        if lose_next_ack:
            lose_next_ack = False
            raise ConnectionError("acknowledgement lost")
        return max(held)

    with pytest.raises(ConnectionError):
        await gate.upload(receiver)
    assert gate.journal.cursor(gate.device_id) == 0  # nothing acknowledged: nothing moves
    assert await gate.upload(receiver) == 2
    assert await gate.upload(receiver) == 0
    entry, exit_ = held[1], held[2]
    assert (entry["kind"], entry["plate"], entry["fee"]) == ("entry", "30A1", None)
    assert (exit_["kind"], exit_["session_seq"], exit_["failure"]) == ("exit", 1, "barrier_offline")
    assert datetime.fromisoformat(str(exit_["at"])) == later  # the same instant, in UTC
    # What goes on the wire decodes as the device API's body.
    wire = json.loads(batch_to_wire(UploadBatch(
        device_id=gate.device_id, lot_id=LOT.lot_id, records=tuple(gate.journal.records(0)),
    )))  # fmt: skip
    assert wire["lot_id"] == LOT.lot_id
    assert [r["seq"] for r in wire["records"]] == [1, 2]
    gate.close()
