"""The operator API's parking backend: `faregate.api.staff.ParkingOps` over `parking.services`,
with the app's database and Redis.

- `lots`: every configured lot with its live occupancy from Redis (`parking.occupancy`, the
  counts the barrier uploads move). A lot whose counters are not in Redis (a new Redis, a
  flushed one) is resynced from its open sessions first (`resync_occupancy`: the sessions are
  the truth), so the answer is never a guess.
- `unable_to_collect`: every unable-to-collect case (`unable_to_collect_report`), oldest first.
"""

from __future__ import annotations

from aiohttp import web

from faregate.api.context import CONFIG, ENGINE, REDIS
from faregate.api.staff import LotStatus, UncollectedFee
from parking.errors import OccupancyError
from parking.occupancy import Occupancy
from parking.services import resync_occupancy, unable_to_collect_report
from parking.unit_of_work import ParkingUnitOfWorkFactory


class AppParkingOps:
    """Parking of the app's database and Redis, read at call time (opened after this is made)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def _uows(self) -> ParkingUnitOfWorkFactory:
        return ParkingUnitOfWorkFactory(self._app[ENGINE], self._app[CONFIG].clock)

    async def lots(self) -> list[LotStatus]:
        uows = self._uows()
        occupancy = Occupancy(self._app[REDIS])
        async with uows() as uow:
            lots = await uow.parking.lots()
        found = []
        for lot in lots:
            try:
                live = await occupancy.snapshot(lot.lot_id)
            except OccupancyError:  # not in Redis (yet, or any more): count the sessions
                live = await resync_occupancy(uows, occupancy, lot.lot_id)
            found.append(
                LotStatus(
                    lot_id=lot.lot_id,
                    capacity=live.capacity,
                    occupied=live.occupied,
                    updated_at=uows.clock(),
                    name=lot.name,
                    operator=lot.operator,
                    reserved=live.reserved,
                    free=live.free_for_anyone,
                )
            )
        return found

    async def unable_to_collect(self) -> list[UncollectedFee]:
        report = await unable_to_collect_report(self._uows())
        return [
            UncollectedFee(
                session_id=case.session_id,
                lot_id=case.lot_id,
                account_id=case.account_id,
                amount=case.amount,
                currency=case.currency,
                reason=case.reason,
                plate=case.plate,
                at=case.at,
                on_receivable=case.debt_posting_id is not None,
            )
            for case in sorted(report.cases, key=lambda c: (c.at, c.session_id))
        ]
