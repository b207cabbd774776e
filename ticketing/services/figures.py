"""The day's figures: what was stored and priced, and whether the books hold."""

from __future__ import annotations

from dataclasses import dataclass

from ticketing.ledger.reports import InvariantReport
from ticketing.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class DayFigures:
    taps_stored: int
    taps_priced: int  # taps used by the latest price of every account-day
    ledger: InvariantReport

    @property
    def taps_conserved(self) -> bool:
        return self.taps_stored == self.taps_priced


async def day_figures(uows: UnitOfWorkFactory) -> DayFigures:
    async with uows() as uow:
        return DayFigures(
            taps_stored=await uow.taps.count(),
            taps_priced=await uow.pricing.priced_tap_count(),
            ledger=await uow.ledger.check_invariants(),
        )


async def check_ledger(uows: UnitOfWorkFactory) -> InvariantReport:
    """Everything the ledger promises, checked from the stored rows."""
    async with uows() as uow:
        return await uow.ledger.check_invariants()
