"""Plate checks at on-street lots: an inspector asks whether a plate parked there has paid.

The answer is one of: `session` (an open stay at the lot: it entered through the lot's
barrier or app and will pay on leaving), `permit` (a permit for the plate covering now), or
`nothing` (neither: the inspector follows up). Every check is recorded with the inspector,
the lot, the plate and what was found, so checks can be reviewed. Only on-street lots are
inspected: off-street lots have barriers that check every vehicle.
"""

from __future__ import annotations

from dataclasses import dataclass

from parking.errors import InspectionError
from parking.permit import Permit, permit_for
from parking.records import Inspection, LotConfig, LotKind, SessionRecord
from parking.sessions import plate_key
from parking.unit_of_work import ParkingUnitOfWork, ParkingUnitOfWorkFactory
from ticketing.unit_of_work import run_in_uow

RECENT_CHECKS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class PlateCheck:
    """A check as recorded, with the stay or permit it found."""

    inspection: Inspection
    lot: LotConfig
    session: SessionRecord | None = None
    permit: Permit | None = None


def inspectable(lot: LotConfig) -> bool:
    return lot.kind is LotKind.ON_STREET


async def inspection_lots(uows: ParkingUnitOfWorkFactory) -> list[LotConfig]:
    """The lots an inspector checks (on-street), by name."""
    async with uows() as uow:
        lots = [lot for lot in await uow.parking.lots() if inspectable(lot)]
    return sorted(lots, key=lambda lot: (lot.name, lot.lot_id))


async def check_plate(
    uows: ParkingUnitOfWorkFactory, lot_id: str, plate: str, *, inspector: str
) -> PlateCheck:
    """Check `plate` at the on-street lot `lot_id` now and record the check. InspectionError
    for an off-street lot or a text that is no plate; UnknownLot."""
    wanted = plate_key(plate)

    async def use_case(uow: ParkingUnitOfWork) -> PlateCheck:
        lot = await uow.parking.get_lot(lot_id)
        if not inspectable(lot):
            raise InspectionError(
                f"lot {lot_id} is {lot.kind.value}: its barriers check every vehicle"
            )
        now = uow.clock()
        session = await uow.parking.open_session_of_plate(lot_id, wanted)
        permit = None
        if session is None:
            permit = permit_for(
                await uow.parking.permits(lot_id, valid_after=now),
                lot_id,
                credential_id=None,
                plate=wanted,
                at=now,
            )
        result = "session" if session is not None else "permit" if permit else "nothing"
        inspection = await uow.parking.add_inspection(
            Inspection(
                lot_id=lot_id,
                plate=wanted,
                inspector=inspector,
                at=now,
                result=result,
                session_id=None if session is None else session.session_id,
                permit_id=None if permit is None else permit.permit_id,
            )
        )
        return PlateCheck(inspection=inspection, lot=lot, session=session, permit=permit)

    return await run_in_uow(uows, use_case)


async def recent_checks(
    uows: ParkingUnitOfWorkFactory, *, inspector: str | None = None, lot_id: str | None = None
) -> list[Inspection]:
    """The newest checks (an inspector's, or at a lot), newest first."""
    async with uows() as uow:
        return await uow.parking.inspections(
            inspector=inspector, lot_id=lot_id, limit=RECENT_CHECKS
        )
