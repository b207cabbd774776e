"""The staff APIs' backends, as small interfaces the routes call.

Finance routes (`routes/finance.py`) call `Settlements`: by default the app's own
(`faregate.api.settlements.AppSettlements`, over `ticketing.services.settlement`);
`ApiConfig.settlements` replaces it. Operator parking routes (`routes/operator.py`) call
`ParkingOps`: by default the app's own (`faregate.api.parking_ops.AppParkingOps`, over
`parking.services`); `ApiConfig.parking_ops` replaces it. Backends answer failures as
`faregate.api.problems.Problem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol


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
class SettlementFigures:
    day: date
    digest: str
    closed_by: str
    closed_at: datetime
    figures: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SettlementException:
    kind: str
    reference: str
    amount: int
    currency: str
    first_seen: date
    detail: str


class Settlements(Protocol):
    """What finance routes call."""

    async def start(self, day: date, who: str) -> SettlementStarted: ...

    async def days(self) -> list[SettlementDay]: ...

    async def figures(self, day: date) -> SettlementFigures:
        """A settled day's stored figures (404 problem if it is not settled)."""
        ...

    async def exceptions(self, day: date) -> list[SettlementException]: ...

    async def statement(self, day: date, name: str) -> tuple[bytes, str]:
        """A report file of a settled day and its content type."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LotStatus:
    lot_id: str
    name: str
    operator: str
    capacity: int
    reserved: int
    occupied: int
    free: int  # spaces an ordinary entry may still take
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class UncollectedFee:
    session_id: str
    lot_id: str
    account_id: str | None  # None: no account to bill (a lost credential, no plate match)
    plate: str | None
    amount: int
    currency: str
    reason: str
    at: datetime
    on_receivable: bool  # the fee was posted to the account's receivable (debt)


class ParkingOps(Protocol):
    """What operator parking routes call."""

    async def lots(self) -> list[LotStatus]: ...

    async def unable_to_collect(self) -> list[UncollectedFee]: ...
