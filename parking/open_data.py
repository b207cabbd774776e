"""Open data for drivers' apps and message signs: every lot as a ParkAPI (ParkenDD) parking
site with its live free spaces, and one lot's day as a history of them.

The format is ParkAPI v3's: a page `{"items": [...], "total_count": n}` of parking sites, each
valid against the published JSON schema of a parking site (ParkAPI2-sources
`docs/schema/parking-site.json`, a copy in `tests/fixtures/parkapi/` with its source), with
the realtime fields v3 adds (`realtime_data_updated_at`). Free spaces are the barrier's:
`parking.services.lot_statuses`, the one definition the operator API and page show too
(spaces an ordinary entry may still take: the reserved ones are not free to the public). A
lot without coordinates is not published (a parking site has to say where it is).

A lot's history is its occupancy every 15 minutes of a local day (`parking.history`), in the
fields of ParkAPI's parking site history: capacity, realtime capacity and free capacity at
`realtime_data_updated_at`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from parking.history import lot_day
from parking.occupancy import LotOccupancy, Occupancy
from parking.records import LotConfig, LotKind
from parking.services import lot_statuses
from parking.unit_of_work import ParkingUnitOfWorkFactory

SOURCE_ID = 1  # ParkAPI's number for a data source: this server is one source
HISTORY_STEP = timedelta(minutes=15)
PARKAPI_TYPE = {
    LotKind.ON_STREET: "ON_STREET",
    LotKind.PARKING_GROUND: "OFF_STREET_PARKING_GROUND",
    LotKind.CAR_PARK: "CAR_PARK",
    LotKind.UNDERGROUND: "UNDERGROUND",
    LotKind.OTHER: "OTHER",
}


def _site(lot: LotConfig, operators: Mapping[str, str]) -> dict[str, Any]:
    assert lot.latitude is not None
    assert lot.longitude is not None
    site: dict[str, Any] = {
        "source_id": SOURCE_ID,
        "original_uid": lot.lot_id,
        "name": lot.name,
        "operator_name": operators.get(lot.operator, lot.operator),
        "type": PARKAPI_TYPE[lot.kind],
        "has_fee": True,
        "has_realtime_data": True,
        "lat": f"{lot.latitude:.7f}",
        "lon": f"{lot.longitude:.7f}",
        "capacity": lot.capacity,
    }
    if lot.address is not None:
        site["address"] = lot.address
    return site


async def parking_sites(
    uows: ParkingUnitOfWorkFactory, occupancy: Occupancy, operators: Mapping[str, str]
) -> dict[str, Any]:
    """Every lot with coordinates as a ParkAPI parking site with its live free spaces.
    `operators`: operator id -> the name to publish."""
    items = []
    async with uows() as uow:
        changed = {
            lot.lot_id: await uow.parking.lot_updated_at(lot.lot_id)
            for lot in await uow.parking.lots()
        }
    for status in await lot_statuses(uows, occupancy):
        lot = status.lot
        if lot.latitude is None or lot.longitude is None:
            continue
        items.append(
            {
                **_site(lot, operators),
                "static_data_updated_at": changed[lot.lot_id].isoformat(),
                "realtime_capacity": status.capacity,
                "realtime_free_capacity": status.free,
                "realtime_data_updated_at": status.updated_at.isoformat(),
            }
        )
    return {"items": items, "total_count": len(items)}


async def site_history(uows: ParkingUnitOfWorkFactory, lot_id: str, day: date) -> dict[str, Any]:
    """The lot's free spaces every 15 minutes of `day` (local), as ParkAPI history items."""
    figures = await lot_day(uows, lot_id, day)
    lot = figures.lot
    items = [
        {
            "original_uid": lot.lot_id,
            "realtime_data_updated_at": point.at.isoformat(),
            "capacity": lot.capacity,
            "realtime_capacity": lot.capacity,
            "realtime_free_capacity": LotOccupancy(
                lot_id=lot.lot_id,
                capacity=lot.capacity,
                reserved=lot.reserved,
                occupied=point.occupied,
            ).free_for_anyone,
        }
        for point in figures.occupancy
        if (point.at - figures.start) % HISTORY_STEP == timedelta(0)
    ]
    return {"items": items, "total_count": len(items)}
