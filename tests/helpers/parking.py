"""Parking lots for tests, opened through the use case the CLI, the API and the demo call
(`parking.lots.add_lot`), with a shipped tariff as their first version."""

from __future__ import annotations

from typing import Any

from parking.lots import add_lot
from parking.occupancy import Occupancy
from parking.records import LotConfig
from parking.tariff_files import resolve_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from ticketing.audit import Actor

TESTS = Actor.administrator("tests")


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
