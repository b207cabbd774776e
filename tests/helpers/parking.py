"""Parking lots for tests, opened through the use case the CLI, the API and the demo call
(`parking.lots.add_lot`), with a shipped tariff as their first version."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from parking.lots import add_lot
from parking.occupancy import Occupancy
from parking.records import BarrierEvent, EventKind, LotConfig
from parking.services import ingest_barrier_batch
from parking.tariff_files import load_tariff, resolve_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from ticketing.audit import Actor

TESTS = Actor.administrator("tests")


def car_fee(entry: datetime, exit: datetime) -> int:
    """What the backend charges a car for this stay on the shipped `hanoi-car` tariff: it prices
    every exit again, day or night rate by the hour the stay falls in, so a test that takes its
    times from the clock expects this, never a fixed figure."""
    return load_tariff("hanoi-car").quote("car", entry, exit).amount


def shipped(name: str) -> str:
    """A shipped tariff's document (`hanoi-car`)."""
    return resolve_tariff(name).read_text(encoding="utf-8")


def lot_config(lot_id: str = "lot", **changes: Any) -> LotConfig:
    """A lot of an operator in the registry, in VND, with 40 spaces unless `changes` say."""
    values: dict[str, Any] = {
        "lot_id": lot_id,
        "name": lot_id.replace("-", " ").title(),
        "operator": "iparking-hanoi",
        "capacity": 40,
        "currency": "VND",
    }
    values.update(changes)
    return LotConfig(**values)


async def open_lot(
    uows: ParkingUnitOfWorkFactory,
    lot: LotConfig,
    tariff: str = "hanoi-car",
    occupancy: Occupancy | None = None,
) -> LotConfig:
    """`lot`, created with the shipped tariff `tariff` in force from the clock's now. Its
    operator need not be in the registry (tests keep operators apart by name)."""
    return await add_lot(
        uows, lot, shipped(tariff), by=TESTS, operators={lot.operator}, occupancy=occupancy
    )


async def lot_with_a_day(
    uows: ParkingUnitOfWorkFactory,
    occupancy: Occupancy,
    *,
    now: datetime | None = None,
    **changes: Any,
) -> str:
    """A lot (40 spaces, 2 reserved), a car in and out 40 minutes ago, one still inside, and
    one that left without paying."""
    lot_id = f"lot-{secrets.token_hex(4)}"
    values = {"reserved": 2, "permit_price": 2_000_000, "name": "Phố Huế car park", **changes}
    await open_lot(uows, lot_config(lot_id, **values), occupancy=occupancy)
    device = f"barrier-{secrets.token_hex(4)}"
    now = now or datetime.now(UTC).replace(microsecond=0)

    def event(seq: int, kind: EventKind, at: datetime, plate: str, **extra: Any) -> BarrierEvent:
        return BarrierEvent(
            device_id=device, seq=seq, lot_id=lot_id, kind=kind, at=at, vehicle="car",
            plate=plate, **extra,
        )  # fmt: skip

    exit_fields = {"tariff_id": "hanoi-car", "fee": 25_000, "currency": "VND"}
    await ingest_barrier_batch(
        uows, device, lot_id,
        [
            event(1, EventKind.ENTRY, now - timedelta(minutes=80), "29A-11111", reason="ok"),
            event(2, EventKind.ENTRY, now - timedelta(minutes=70), "29A-22222", reason="ok"),
            event(3, EventKind.ENTRY, now - timedelta(minutes=60), "29A-33333", reason="ok"),
            event(4, EventKind.EXIT, now - timedelta(minutes=40), "29A-11111", reason="paid",
                  session_seq=1, collected=25_000, **exit_fields),
            event(5, EventKind.EXIT, now - timedelta(minutes=30), "29A-22222",
                  reason="unable_to_collect", session_seq=2, collected=0,
                  failure="barrier_offline", **exit_fields),
        ],
        occupancy=occupancy,
    )  # fmt: skip
    return lot_id
