"""The staff APIs' backends, as small interfaces the routes call.

Operator parking routes (`routes/operator.py`) call
`ParkingOps`: by default the app's own (`faregate.api.parking_ops.AppParkingOps`, over
`parking.services`); `ApiConfig.parking_ops` replaces it. Backends answer failures as
`faregate.api.problems.Problem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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
