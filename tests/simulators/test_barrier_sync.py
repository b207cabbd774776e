"""The barrier with its lot's configuration as synced (`OfflineBarrier.configure`): each stay
priced by the tariff version in force at its entry, even offline across a change, and permit
holders admitted into the reserved spaces and let out free while the permit lasts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from parking.barrier_config import BarrierConfiguration, SyncedTariff
from parking.permit import Permit, month_window
from parking.records import LotConfig
from parking.sessions import CollectFailure, Lot
from parking.tariff_files import load_tariff
from qr.issue import PhoneCredential, issue_credential
from qr.keys import KeyMaterial
from qr.vectors import fixed_key_material
from simulators.barrier import Charge, OfflineBarrier, Refusal
from simulators.errors import BarrierError
from tests.helpers.parking import shipped

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 30, 8, tzinfo=HANOI)
CAR = shipped("hanoi-car")
DEARER = CAR.replace("amount = 25000", "amount = 30000")
LOT = LotConfig(
    lot_id="street", name="Street", operator="iparking-hanoi", capacity=3, reserved=1,
    currency="VND",
)  # fmt: skip


@pytest.fixture(scope="module")
def keys() -> KeyMaterial:
    return fixed_key_material(rotated=False)


def phone(keys: KeyMaterial, credential_id: int) -> PhoneCredential:
    return issue_credential(
        keys, credential_id=credential_id, product="WALLET", now=T0 - timedelta(days=1)
    )


def permit(month: date, *, credential_id: int | None = None, plate: str | None = None) -> Permit:
    start, end = month_window(month, HANOI)
    return Permit(
        permit_id=f"street:{month:%Y-%m}:{credential_id or plate}", lot_id="street", month=month,
        valid_from=start, valid_until=end, plate=plate, credential_id=credential_id,
        price=3_000_000, currency="VND", sold_at=start, sold_by="test",
    )  # fmt: skip


def config(*permits: Permit, change_at: datetime | None = None) -> BarrierConfiguration:
    tariffs = [SyncedTariff(version=1, effective_from=T0 - timedelta(days=30), document=CAR)]
    if change_at is not None:
        tariffs.append(SyncedTariff(version=2, effective_from=change_at, document=DEARER))
    return BarrierConfiguration(lot=LOT, as_of=T0, tariffs=tuple(tariffs), permits=permits)


def barrier(keys: KeyMaterial, tmp_path: Path, charges: list[Charge]) -> OfflineBarrier:
    def collect(charge: Charge) -> CollectFailure | None:
        charges.append(charge)
        return None

    return OfflineBarrier(
        "street-b1", Lot(lot_id="street", tariff=load_tariff("hanoi-car")), keys.keyset,
        keys.secure_module(), tmp_path / "j.sqlite", collector=collect, clock=lambda: T0,
    )  # fmt: skip


def test_each_stay_is_priced_by_the_version_in_force_at_its_entry(
    keys: KeyMaterial, tmp_path: Path
) -> None:
    charges: list[Charge] = []
    b = barrier(keys, tmp_path, charges)
    midnight = datetime(2026, 12, 1, tzinfo=HANOI)
    b.configure(config(change_at=midnight))  # synced today: tomorrow's version comes too
    early, late = phone(keys, 1), phone(keys, 2)
    tomorrow = midnight + timedelta(hours=8)
    assert b.present_entry(early.token_at(T0), T0).opened
    assert b.present_entry(late.token_at(tomorrow), tomorrow).opened
    done = tomorrow + timedelta(hours=1)
    first = b.present_exit(early.token_at(done), done)
    second = b.present_exit(late.token_at(done + timedelta(seconds=5)), done + timedelta(seconds=5))
    # Entered today: the whole stay at today's prices (08:00-18:00 25,000 + 35,000 + 3 x
    # 45,000, the night 150,000, 06:00-09:00 25,000 + 35,000); entered tomorrow: tomorrow's
    # (30,000 a turn).
    assert first.fee is not None
    assert second.fee is not None
    assert first.fee.amount == load_tariff("hanoi-car").quote("car", T0, done).amount == 405_000
    assert second.fee.amount == 30_000
    b.close()


def test_a_permit_holder_enters_a_full_lot_and_leaves_free_an_expired_one_pays(
    keys: KeyMaterial, tmp_path: Path
) -> None:
    charges: list[Charge] = []
    b = barrier(keys, tmp_path, charges)
    holder, lapsed = phone(keys, 7), phone(keys, 8)
    b.configure(
        config(
            permit(date(2026, 11, 1), credential_id=7),
            permit(date(2026, 10, 1), credential_id=8),  # October's: over
            permit(date(2026, 11, 1), plate="30A12345"),
        )
    )
    # Two ordinary cars fill the unreserved spaces: no room for an ordinary entry, one
    # reserved space left.
    assert not b.present_entry(lapsed.token_at(T0), T0, room=False, reserved_room=True).opened
    entered = b.present_entry(holder.token_at(T0), T0, room=False, reserved_room=True)
    assert entered.opened
    assert entered.session is not None
    assert entered.session.permit_until == datetime(2026, 12, 1, tzinfo=HANOI)
    assert b.journal.records()[-1].permit_id == "street:2026-11:7"
    out = T0 + timedelta(hours=5)
    left = b.present_exit(holder.token_at(out), out)
    assert left.opened
    assert left.fee is not None
    assert (left.fee.amount, left.fee.within_permit) == (0, True)
    assert charges == []
    # The expired permit is no permit: with room it enters and pays the tariff.
    later = out + timedelta(minutes=1)
    assert b.present_entry(lapsed.token_at(later), later).opened
    gone = later + timedelta(hours=2)
    paid = b.present_exit(lapsed.token_at(gone), gone)
    assert paid.fee is not None
    assert paid.fee.amount == 25_000
    assert [c.amount for c in charges] == [25_000]
    # A plate-reading lane: the permit's plate is let in (any space free) and out free; a
    # plate without a permit must show its QR.
    assert b.present_plate("30A-123.45", gone, room=False, reserved_room=True).opened
    assert b.present_plate("29B-999.99", gone).reason == Refusal.NO_PERMIT
    free = b.present_plate_exit("30a 12345", gone + timedelta(hours=3))
    assert free.fee is not None
    assert free.fee.amount == 0
    assert b.present_plate_exit("30A-12345", gone).reason == Refusal.NO_OPEN_SESSION
    # A reserved space is room for a permit holder only: none left, none admitted.
    full = gone + timedelta(hours=4)
    assert not b.present_entry(holder.token_at(full), full, room=False, reserved_room=False).opened
    b.close()


def test_a_stay_past_the_permits_end_pays_from_that_end(keys: KeyMaterial, tmp_path: Path) -> None:
    charges: list[Charge] = []
    b = barrier(keys, tmp_path, charges)
    holder = phone(keys, 7)
    b.configure(config(permit(date(2026, 11, 1), credential_id=7)))
    evening = datetime(2026, 11, 30, 19, tzinfo=HANOI)
    assert b.present_entry(holder.token_at(evening), evening).opened
    # Restarted before leaving: the open stay keeps its permit from the journal.
    b.close()
    b = barrier(keys, tmp_path, charges)
    b.configure(config(permit(date(2026, 11, 1), credential_id=7)))
    out = datetime(2026, 12, 1, 8, tzinfo=HANOI)  # November's permit ended at midnight
    left = b.present_exit(holder.token_at(out), out)
    assert left.fee is not None
    assert left.fee.amount == 150_000 + 25_000  # the night from 00:00, then a day turn
    b.close()


def test_a_configuration_of_another_lot_is_refused(keys: KeyMaterial, tmp_path: Path) -> None:
    b = barrier(keys, tmp_path, [])
    other = BarrierConfiguration(
        lot=LotConfig(lot_id="else", name="E", operator="o", capacity=1, currency="VND"),
        as_of=T0, tariffs=config().tariffs,
    )  # fmt: skip
    with pytest.raises(BarrierError, match="configuration of lot else"):
        b.configure(other)
    b.close()
