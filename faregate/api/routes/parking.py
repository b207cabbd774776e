"""Device API for parking barriers: `POST /device/v1/parking/journal`.

A barrier uploads its journal records (entries, exits, refusals) after its upload cursor,
signed like every device request. The batch is applied by `parking.services.
ingest_barrier_batch` in one transaction, in sequence order, each (device_id, seq) once:
entries open sessions (and hold money on prepaid wallets), exits close them and post their
fees or record an unable-to-collect case. The answer's `last_seq` is the highest seq now
applied for the device: the barrier's acknowledgement, after which its cursor moves. A
repeated or overlapping batch applies nothing twice and says so (`duplicate`). The lot's live
occupancy in Redis is then corrected from its open sessions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from faregate.api.context import CONFIG, ENGINE, REDIS, UOWS
from faregate.api.errors import Problem
from faregate.api.occupancy_relay import publish_occupancy
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.api.routes.device import UINT64_MAX, CredentialId
from faregate.web.occupancy import LotOccupancy
from parking.occupancy import Occupancy
from parking.records import BarrierEvent
from parking.services import ingest_barrier_batch
from parking.unit_of_work import ParkingUnitOfWorkFactory
from ticketing.devices import DeviceKind, DeviceRecord, Direction
from ticketing.errors import WrongDeviceKind
from ticketing.services.devices import get_device

routes = RouteRegistry()

MAX_BATCH_RECORDS = 5_000
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
SequenceNumber = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
# No control characters anywhere (PostgreSQL text cannot hold NUL); ids without spaces or ':'.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00-\x20:\x7f]+$")]
Short = Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")]
Plate = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[^\x00-\x1f\x7f]+$")]
Amount = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
# A permit's name: lot, month and holder (`parking.permit.permit_id`), so ':' is allowed.
PermitId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x20\x7f]+$")
]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class BarrierRecordDoc(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One barrier journal record (simulators/barrier.py `BarrierRecord`, as JSON)."""

    device_id: Id
    seq: SequenceNumber
    lot_id: Id
    kind: Literal["entry", "exit", "refused", "remote_open"]
    at: AwareTime
    reason: Short
    session_seq: SequenceNumber | None = None
    # A decimal string, as in every device document: JSON numbers above 2**53 are corrupted
    # by double-based parsers. A number is refused (422 naming the field).
    credential_id: CredentialId | None = None
    plate: Plate | None = None
    vehicle: Literal["car", "motorbike"] | None = None
    tariff_id: Id | None = None
    fee: Amount | None = None
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] | None = None
    collected: Amount | None = None
    failure: Literal["insufficient_funds", "card_declined", "barrier_offline"] | None = None
    passback_violation: bool = False
    lost_credential: bool = False
    permit_id: PermitId | None = None
    command_id: PermitId | None = None  # a remote open: the operator's command it carried out

    def __post_init__(self) -> None:
        if self.credential_id is not None and int(self.credential_id) > UINT64_MAX:
            raise ValueError("`credential_id` must be at most 2**64 - 1")


class BarrierJournalBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    lot_id: Id
    records: Annotated[
        list[BarrierRecordDoc], msgspec.Meta(min_length=1, max_length=MAX_BATCH_RECORDS)
    ]


class LotOccupancyDoc(msgspec.Struct, kw_only=True):
    capacity: int
    reserved: int
    occupied: int


class BarrierUploadDoc(msgspec.Struct, kw_only=True):
    """`applied + duplicate == received`; `last_seq` acknowledges the device's records."""

    received: int
    applied: int
    duplicate: int
    last_seq: int
    entries: int
    exits: int
    unable_to_collect: int
    occupancy: LotOccupancyDoc | None


def _check_fits(device: DeviceRecord, batch: BarrierJournalBatch) -> None:
    """Refuse (403, nothing applied) an upload that does not fit the device's binding: from a
    gate or validator, for another lot than the barrier's (`wrong-place`), or, from a barrier
    bound to one lane, with a passage of the other direction (`wrong-lane`: an entry lane's
    barrier cannot see a car leave). Refusals and remote opens happen in either lane; a
    barrier bound without a direction serves both and records both."""
    binding = device.binding
    if binding.kind is not DeviceKind.BARRIER:
        raise WrongDeviceKind(
            f"{device.device_id} is a {binding.kind}: it uploads to /device/v1/journal"
        )
    if batch.lot_id != binding.lot_id:
        raise Problem(
            403, "wrong-place", "Not the barrier's place",
            f"barrier {device.device_id} is bound to lot {binding.lot_id}, not "
            f"{batch.lot_id}; nothing was applied",
        )  # fmt: skip
    lane = binding.direction
    if lane is None:
        return
    misfits = [
        (index, record)
        for index, record in enumerate(batch.records)
        if record.kind in _PASSAGES and record.kind != lane
    ]
    if misfits:
        index, first = misfits[0]
        more = f" (and {len(misfits) - 1} more)" if len(misfits) > 1 else ""
        raise Problem(
            403, "wrong-lane", "Not the barrier's lane",
            f"barrier {device.device_id} is bound to the {lane} lane of lot {binding.lot_id}: "
            f"record {first.seq} is an {first.kind}{more}; nothing was applied"
            f" - at `$.records[{index}].kind`",
            errors=[
                (f"$.records[{n}].kind", f"record {r.seq}: an {r.kind} at the {lane} lane")
                for n, r in misfits
            ],
        )  # fmt: skip


_PASSAGES = frozenset(lane.value for lane in Direction)  # the kinds a lane constrains


@routes.route(
    "POST", "/device/v1/parking/journal", summary="Upload a barrier's journal records",
    tag="device", auth=Auth.DEVICE, body=BarrierJournalBatch, response=BarrierUploadDoc,
    errors=[403, 404, 409], max_body=MAX_UPLOAD_BYTES,
)  # fmt: skip
async def upload_barrier_journal(call: Call) -> BarrierUploadDoc:
    device_id = call.require_subject()
    batch = call.body_as(BarrierJournalBatch)
    foreign = sorted({r.device_id for r in batch.records if r.device_id != device_id})
    if foreign:
        raise Problem(
            403, "foreign-records", "Records of another device",
            f"device {device_id} may upload only its own records, not those of "
            f"{', '.join(foreign[:3])}; nothing was applied",
        )  # fmt: skip
    for index, record in enumerate(batch.records):
        if not EARLIEST <= record.at < LATEST:
            raise Problem(
                422, "validation", "Invalid body",
                f"time {record.at.isoformat()} is outside {EARLIEST.year}..{LATEST.year}"
                f" - at `$.records[{index}].at`",
            )  # fmt: skip
    app = call.app
    uows = ParkingUnitOfWorkFactory(app[ENGINE], app[CONFIG].clock)
    # The authentication has just read the registry row, so the device is there.
    device = await get_device(app[UOWS], device_id)
    _check_fits(device, batch)
    result = await ingest_barrier_batch(
        uows,
        device_id,
        batch.lot_id,
        [BarrierEvent.from_journal(record) for record in batch.records],
        occupancy=Occupancy(app[REDIS]),
        enrolled_at=device.enrolled_at,  # a record dated before it is impossible
    )
    occupancy = result.occupancy
    if occupancy is not None and result.applied:
        # Open operator pages, on any server process, redraw the lot's row (server-sent
        # events, faregate/web); the page keeps the lot's name from its own data.
        await publish_occupancy(
            app,
            LotOccupancy(
                lot_id=batch.lot_id, name=batch.lot_id, capacity=occupancy.capacity,
                occupied=occupancy.occupied, free=occupancy.free_for_anyone,
                updated_at=app[CONFIG].clock(),
            ),
        )  # fmt: skip
    return BarrierUploadDoc(
        received=result.received,
        applied=result.applied,
        duplicate=result.duplicate,
        last_seq=result.last_seq,
        entries=result.entries,
        exits=result.exits,
        unable_to_collect=result.cases,
        occupancy=None
        if occupancy is None
        else LotOccupancyDoc(
            capacity=occupancy.capacity, reserved=occupancy.reserved, occupied=occupancy.occupied
        ),
    )
