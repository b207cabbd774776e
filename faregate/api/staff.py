"""The staff APIs' backends that are not part of every build, as small interfaces.

Finance routes (`routes/finance.py`) need the settlement use cases and operator parking routes
(`routes/operator.py`) the parking services. The app holds an implementation under
`SETTLEMENTS` / `PARKING_OPS` when one is wired in (`ApiConfig.settlements`,
`ApiConfig.parking_ops`); until then those routes still authenticate and check roles, then
answer 501 problem+json naming what is missing: they are shells, not features.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from faregate.api.problems import Problem


@dataclass(frozen=True, slots=True)
class SettlementDay:
    day: date
    state: str  # open | closing (<stage>) | settled | adjustments waiting
    digest: str | None
    adjustments_waiting: int


@dataclass(frozen=True, slots=True)
class SettlementStarted:
    day: date
    already_settled: bool
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SettlementException:
    kind: str
    reference: str
    amount: int
    currency: str
    first_seen: date
    detail: str


class Settlements(Protocol):
    """What finance routes call (to be backed by `ticketing.services.settlement`)."""

    async def start(self, day: date, who: str) -> SettlementStarted: ...

    async def days(self) -> list[SettlementDay]: ...

    async def exceptions(self, day: date) -> list[SettlementException]: ...

    async def statement(self, day: date, name: str) -> tuple[bytes, str]:
        """A report file of a settled day and its content type."""
        ...


@dataclass(frozen=True, slots=True)
class LotStatus:
    lot_id: str
    capacity: int
    occupied: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class UncollectedFee:
    session_id: str
    lot_id: str
    account_id: str
    amount: int
    currency: str
    reason: str


class ParkingOps(Protocol):
    """What operator parking routes call (to be backed by `parking.services`)."""

    async def lots(self) -> list[LotStatus]: ...

    async def unable_to_collect(self) -> list[UncollectedFee]: ...


def not_wired(what: str, module: str) -> Problem:
    return Problem(
        501, "not-wired", "Not Implemented",
        f"{what} is not wired into this server yet (needs {module})",
    )  # fmt: skip
