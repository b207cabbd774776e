"""Operator API (Auth.OPERATOR) for lots and their tariffs, and a lot's day in figures.

- `POST /api/v1/operator/lots`: create a lot with its first tariff (a tariff file's text in
  `tariff`, or a shipped tariff by `tariff_name`), in force from now;
  `GET /api/v1/operator/lots/{lot_id}` one lot as configured, with its tariff versions;
  `PATCH /api/v1/operator/lots/{lot_id}` change it (capacity, reserved spaces, place...).
- `POST /api/v1/operator/lots/{lot_id}/tariffs` `{"document"}`: upload a tariff file as a
  draft; a file with errors is a 422 `invalid-tariff` whose `errors` give each field and
  reason. `GET .../tariffs` the versions; `GET .../tariffs/{version}/preview` quotes of
  typical stays beside the version in force; `POST .../tariffs/{version}/schedule`
  `{"effective_from"?}` (now or later); `POST .../tariffs/{version}/cancel` `{"reason"}`.
- `GET /api/v1/operator/lots/{lot_id}/days/{day}`: the lot's local day: occupancy every 5
  minutes, entries, exits and the peak per hour, dwell times, revenue per day for the 14 days
  to `day`, the remote opens asked (`parking.history.lot_day`, the figures the page draws).

Each is one call of `parking.lots` or `parking.history`, the use cases the CLI and the page
call too; their errors are problem documents from the error table (`faregate.api.error_table`),
a tariff's and a lot's with each field and reason in `errors`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from faregate.api.context import CONFIG, ENGINE, REDIS
from faregate.api.errors import Problem
from faregate.api.registry import Auth, Call, RouteRegistry
from parking.history import LotDay, lot_day
from parking.lots import (
    MAX_DOCUMENT,
    LotChanges,
    LotOverview,
    add_lot,
    cancel_tariff,
    edit_lot,
    lot_tariffs,
    lots_overview,
    preview_tariff,
    read_tariff,
    schedule_tariff,
    upload_tariff,
)
from parking.occupancy import Occupancy
from parking.records import LotConfig, LotKind, coordinate
from parking.tariff_files import resolve_tariff, shipped_tariff_names
from parking.tariff_versions import TariffVersion
from parking.unit_of_work import ParkingUnitOfWorkFactory
from ticketing.audit import Actor

routes = RouteRegistry()

# No control characters in any text (PostgreSQL text holds no NUL), and something besides
# spaces in a name or a reason.
PRINTABLE = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
LotId = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00-\x20\x7f]+$")]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=PRINTABLE)]
Spaces = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Minor = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Document = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DOCUMENT)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)

LOT_PARAMETER = {
    "name": "lot_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
}
VERSION_PARAMETER = {
    "name": "version",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
DAY_PARAMETER = {
    "name": "day",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "date"},
    "description": "The lot's local day, YYYY-MM-DD.",
}


class LotCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new lot. Its currency is its first tariff's."""

    lot_id: LotId
    name: Text
    operator: LotId
    capacity: Spaces
    reserved: Spaces = 0
    tariff: Document | None = None  # a tariff file's text (TOML)
    tariff_name: LotId | None = None  # or a shipped tariff by name
    kind: LotKind = LotKind.CAR_PARK
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    address: Text | None = None
    permit_price: Minor = 0
    hold: Minor = 0
    passback: Literal["hard", "soft"] = "hard"


class LotEdit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What to change (a field left out stays as it is) and why."""

    name: Text | None = None
    operator: LotId | None = None
    capacity: Spaces | None = None
    reserved: Spaces | None = None
    kind: LotKind | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    address: Text | None = None
    permit_price: Minor | None = None
    hold: Minor | None = None
    passback: Literal["hard", "soft"] | None = None
    reason: Text | None = None


class TariffUpload(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    document: Document  # the tariff file's text (TOML), as `faregate parking tariffs` ships them
    # its file name, for the errors
    source: Annotated[str, msgspec.Meta(max_length=100, pattern=PRINTABLE)] = "upload"


class ScheduleRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    effective_from: AwareTime | None = None  # None: now


class CancelRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Text


class TariffVersionDocument(msgspec.Struct, kw_only=True):
    lot_id: str
    version: int
    tariff_id: str
    name: str
    currency: str
    digest: str
    status: str  # draft, scheduled or cancelled
    effective_from: datetime | None
    created_at: datetime
    created_by: str
    cancelled_at: datetime | None
    in_force: bool  # the version pricing entries now


class LotConfigDocument(msgspec.Struct, kw_only=True):
    lot_id: str
    name: str
    operator: str
    kind: LotKind
    capacity: int
    reserved: int
    passback: str
    hold: int
    permit_price: int
    currency: str
    latitude: float | None
    longitude: float | None
    address: str | None
    open_sessions: int
    updated_at: datetime
    tariff: TariffVersionDocument  # in force now
    upcoming: list[TariffVersionDocument]


class TariffList(msgspec.Struct, kw_only=True):
    lot_id: str
    at: datetime
    versions: list[TariffVersionDocument]  # newest first


class PreviewRowDocument(msgspec.Struct, kw_only=True):
    label: str
    vehicle: str
    entry: datetime
    exit: datetime
    amount: int | None  # with the version previewed; None: it does not price this vehicle
    current: int | None  # with the version in force at the stay's entry


class PreviewDocument(msgspec.Struct, kw_only=True):
    lot_id: str
    version: int
    current_version: int
    currency: str
    rows: list[PreviewRowDocument]


class PointDocument(msgspec.Struct, kw_only=True):
    at: datetime
    occupied: int


class HourDocument(msgspec.Struct, kw_only=True):
    hour: int
    entries: int
    exits: int
    peak: int


class DwellDocument(msgspec.Struct, kw_only=True):
    band: str
    stays: int


class RevenueDocument(msgspec.Struct, kw_only=True):
    day: date
    fees: int
    permits: int
    currency: str


class RemoteOpenDocument(msgspec.Struct, kw_only=True):
    command_id: str
    lot_id: str
    device_id: str
    reason: str
    requested_by: str
    requested_at: datetime
    executed_at: datetime | None


class LotDayDocument(msgspec.Struct, kw_only=True):
    lot_id: str
    day: date
    timezone: str
    start: datetime
    end: datetime
    as_of: datetime
    capacity: int
    occupancy: list[PointDocument]  # every 5 minutes from 00:00 to the day's end (or now)
    peak: PointDocument | None
    hours: list[HourDocument]
    dwell: list[DwellDocument]  # the stays that ended that day, by band
    median_dwell_minutes: float | None
    stays_ended: int
    revenue: list[RevenueDocument]  # the 14 days to `day`, oldest first
    remote_opens: list[RemoteOpenDocument]


def parking_uows(call: Call) -> ParkingUnitOfWorkFactory:
    return ParkingUnitOfWorkFactory(call.app[ENGINE], call.app[CONFIG].clock)


def path_id(call: Call, name: str, what: str) -> str:
    """An id in the path: one with spaces or control characters names nothing (404)."""
    text = call.request.match_info[name]
    if not 0 < len(text) <= 200 or not text.isprintable() or " " in text:
        raise Problem(404, f"unknown-{what}", f"Unknown {what}", f"no {what} {text[:80]!r}")
    return text


def lot_id_of(call: Call) -> str:
    return path_id(call, "lot_id", "lot")


def day_of(text: str) -> date:
    """A day in the path: YYYY-MM-DD within 2000..2100 (422 otherwise)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or len(text) != 10 or not FIRST_DAY <= day <= LAST_DAY:
        raise Problem(
            422, "validation", "Invalid day",
            f"{text[:40]!r} is not a day YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}",
        )  # fmt: skip
    return day


def _version_number(call: Call) -> int:
    text = call.request.match_info["version"]
    if not text.isdigit() or len(text) > 9:
        raise Problem(
            404, "unknown-tariff", "Unknown tariff",
            f"{text[:40]!r} is not a version number",
        )  # fmt: skip
    return int(text)


def version_document(version: TariffVersion, in_force: TariffVersion) -> TariffVersionDocument:
    tariff = version.tariff
    return TariffVersionDocument(
        lot_id=version.lot_id,
        version=version.version,
        tariff_id=tariff.id,
        name=tariff.name,
        currency=tariff.currency,
        digest=version.digest,
        status=version.status,
        effective_from=version.effective_from,
        created_at=version.created_at,
        created_by=version.created_by,
        cancelled_at=version.cancelled_at,
        in_force=version.version == in_force.version,
    )


def lot_document(overview: LotOverview) -> LotConfigDocument:
    lot = overview.lot
    return LotConfigDocument(
        lot_id=lot.lot_id,
        name=lot.name,
        operator=lot.operator,
        kind=lot.kind,
        capacity=lot.capacity,
        reserved=lot.reserved,
        passback=lot.passback,
        hold=lot.hold_amount,
        permit_price=lot.permit_price,
        currency=lot.currency,
        latitude=None if lot.latitude is None else float(lot.latitude),
        longitude=None if lot.longitude is None else float(lot.longitude),
        address=lot.address,
        open_sessions=overview.open_sessions,
        updated_at=overview.updated_at,
        tariff=version_document(overview.tariff, overview.tariff),
        upcoming=[version_document(v, overview.tariff) for v in overview.upcoming],
    )


async def _overview(uows: ParkingUnitOfWorkFactory, lot_id: str) -> LotConfigDocument:
    [overview] = await lots_overview(uows, lot_id)
    return lot_document(overview)


def tariff_document(text: str | None, name: str | None) -> tuple[str, str]:
    """The first tariff of a new lot: its text and where it came from (exactly one of a
    document and a shipped tariff's name)."""
    if (text is None) == (name is None):
        raise Problem(
            422, "validation", "Invalid body",
            "give the lot's first tariff as `tariff` (a tariff file's text) or `tariff_name` "
            "(a shipped tariff) - exactly one",
        )  # fmt: skip
    if text is not None:
        return text, "tariff"
    assert name is not None
    if name not in shipped_tariff_names():
        raise Problem(
            422, "tariff", "Invalid tariff",
            f"no shipped tariff {name[:40]!r} (shipped: {', '.join(shipped_tariff_names())})",
            errors=[("tariff_name", "not a shipped tariff")],
        )  # fmt: skip
    path = resolve_tariff(name)
    return path.read_text(encoding="utf-8"), path.name


@routes.route(
    "POST", "/api/v1/operator/lots", summary="Create a lot with its first tariff",
    tag="operator", auth=Auth.OPERATOR, body=LotCreate, response=LotConfigDocument, errors=[409],
)  # fmt: skip
async def post_lot(call: Call) -> LotConfigDocument:
    body = call.body_as(LotCreate)
    document, source = tariff_document(body.tariff, body.tariff_name)
    uows = parking_uows(call)
    currency = read_tariff(document, source).currency
    lot = LotConfig(
        lot_id=body.lot_id,
        name=body.name,
        operator=body.operator,
        capacity=body.capacity,
        reserved=body.reserved,
        currency=currency,
        passback=body.passback,
        hold_amount=body.hold,
        kind=body.kind,
        latitude=None if body.latitude is None else coordinate(body.latitude),
        longitude=None if body.longitude is None else coordinate(body.longitude),
        address=body.address,
        permit_price=body.permit_price,
    )
    await add_lot(
        uows, lot, document, by=Actor.of(call.user), source=source,
        occupancy=Occupancy(call.app[REDIS]),
    )  # fmt: skip
    return await _overview(uows, lot.lot_id)


@routes.route(
    "GET", "/api/v1/operator/lots/{lot_id}", summary="A lot as configured, with its tariff",
    tag="operator", auth=Auth.OPERATOR, response=LotConfigDocument, errors=[404],
    parameters=[LOT_PARAMETER],
)  # fmt: skip
async def get_lot(call: Call) -> LotConfigDocument:
    return await _overview(parking_uows(call), lot_id_of(call))


@routes.route(
    "PATCH", "/api/v1/operator/lots/{lot_id}", summary="Change a lot",
    tag="operator", auth=Auth.OPERATOR, body=LotEdit, response=LotConfigDocument, errors=[404],
    parameters=[LOT_PARAMETER],
)  # fmt: skip
async def patch_lot(call: Call) -> LotConfigDocument:
    body = call.body_as(LotEdit)
    changes = LotChanges(
        name=body.name,
        operator=body.operator,
        capacity=body.capacity,
        reserved=body.reserved,
        passback=body.passback,
        hold_amount=body.hold,
        kind=None if body.kind is None else body.kind.value,
        latitude=None if body.latitude is None else coordinate(body.latitude),
        longitude=None if body.longitude is None else coordinate(body.longitude),
        address=body.address,
        permit_price=body.permit_price,
    )
    uows, lot_id = parking_uows(call), lot_id_of(call)
    await edit_lot(
        uows, lot_id, changes, by=Actor.of(call.user), reason=body.reason,
        occupancy=Occupancy(call.app[REDIS]),
    )  # fmt: skip
    return await _overview(uows, lot_id)


@routes.route(
    "GET", "/api/v1/operator/lots/{lot_id}/tariffs", summary="A lot's tariff versions",
    tag="operator", auth=Auth.OPERATOR, response=TariffList, errors=[404],
    parameters=[LOT_PARAMETER],
)  # fmt: skip
async def get_tariffs(call: Call) -> TariffList:
    tariffs = await lot_tariffs(parking_uows(call), lot_id_of(call))
    return TariffList(
        lot_id=tariffs.lot.lot_id,
        at=tariffs.at,
        versions=[version_document(v, tariffs.in_force) for v in tariffs.versions],
    )


@routes.route(
    "POST", "/api/v1/operator/lots/{lot_id}/tariffs", summary="Upload a tariff as a draft",
    tag="operator", auth=Auth.OPERATOR, body=TariffUpload, response=TariffVersionDocument,
    errors=[404], parameters=[LOT_PARAMETER],
)  # fmt: skip
async def post_tariff(call: Call) -> TariffVersionDocument:
    body = call.body_as(TariffUpload)
    uows = parking_uows(call)
    draft = await upload_tariff(
        uows, lot_id_of(call), body.document, by=Actor.of(call.user), source=body.source
    )
    tariffs = await lot_tariffs(uows, draft.lot_id)
    return version_document(draft, tariffs.in_force)


@routes.route(
    "GET", "/api/v1/operator/lots/{lot_id}/tariffs/{version}/preview",
    summary="Quotes of typical stays with a tariff version, beside the one in force",
    tag="operator", auth=Auth.OPERATOR, response=PreviewDocument, errors=[404],
    parameters=[LOT_PARAMETER, VERSION_PARAMETER],
)  # fmt: skip
async def get_preview(call: Call) -> PreviewDocument:
    preview = await preview_tariff(parking_uows(call), lot_id_of(call), _version_number(call))
    return PreviewDocument(
        lot_id=preview.lot_id,
        version=preview.version.version,
        current_version=preview.current.version,
        currency=preview.currency,
        rows=[
            PreviewRowDocument(
                label=row.stay.label,
                vehicle=row.stay.vehicle,
                entry=row.stay.entry,
                exit=row.stay.exit,
                amount=row.amount,
                current=row.current,
            )
            for row in preview.rows
        ],
    )


@routes.route(
    "POST", "/api/v1/operator/lots/{lot_id}/tariffs/{version}/schedule",
    summary="Put a tariff version in force from now or a later time",
    tag="operator", auth=Auth.OPERATOR, body=ScheduleRequest, response=TariffVersionDocument,
    errors=[404, 409], parameters=[LOT_PARAMETER, VERSION_PARAMETER],
)  # fmt: skip
async def post_schedule(call: Call) -> TariffVersionDocument:
    body = call.body_as(ScheduleRequest)
    uows = parking_uows(call)
    version = await schedule_tariff(
        uows, lot_id_of(call), _version_number(call), body.effective_from,
        by=Actor.of(call.user),
    )  # fmt: skip
    tariffs = await lot_tariffs(uows, version.lot_id)
    return version_document(version, tariffs.in_force)


@routes.route(
    "POST", "/api/v1/operator/lots/{lot_id}/tariffs/{version}/cancel",
    summary="Withdraw a tariff version not yet in force",
    tag="operator", auth=Auth.OPERATOR, body=CancelRequest, response=TariffVersionDocument,
    errors=[404, 409], parameters=[LOT_PARAMETER, VERSION_PARAMETER],
)  # fmt: skip
async def post_cancel(call: Call) -> TariffVersionDocument:
    body = call.body_as(CancelRequest)
    uows = parking_uows(call)
    version = await cancel_tariff(
        uows, lot_id_of(call), _version_number(call), by=Actor.of(call.user),
        reason=body.reason,
    )  # fmt: skip
    tariffs = await lot_tariffs(uows, version.lot_id)
    return version_document(version, tariffs.in_force)


def day_document(figures: LotDay) -> LotDayDocument:
    lot = figures.lot
    peak = figures.peak
    return LotDayDocument(
        lot_id=lot.lot_id,
        day=figures.day,
        timezone=figures.zone.key,
        start=figures.start,
        end=figures.end,
        as_of=figures.as_of,
        capacity=lot.capacity,
        occupancy=[PointDocument(at=p.at, occupied=p.occupied) for p in figures.occupancy],
        peak=None if peak is None else PointDocument(at=peak.at, occupied=peak.occupied),
        hours=[
            HourDocument(hour=h.hour, entries=h.entries, exits=h.exits, peak=h.peak)
            for h in figures.hours
        ],
        dwell=[DwellDocument(band=band, stays=stays) for band, stays in figures.dwell],
        median_dwell_minutes=figures.median_dwell_minutes,
        stays_ended=figures.stays_ended,
        revenue=[
            RevenueDocument(day=r.day, fees=r.fees, permits=r.permits, currency=lot.currency)
            for r in figures.revenue
        ],
        remote_opens=[
            RemoteOpenDocument(
                command_id=c.command_id,
                lot_id=c.lot_id,
                device_id=c.device_id,
                reason=c.reason,
                requested_by=c.requested_by,
                requested_at=c.requested_at,
                executed_at=c.executed_at,
            )
            for c in figures.remote_opens
        ],
    )


@routes.route(
    "GET", "/api/v1/operator/lots/{lot_id}/days/{day}",
    summary="A lot's day: occupancy, entries and exits per hour, dwell, revenue",
    tag="operator", auth=Auth.OPERATOR, response=LotDayDocument, errors=[404, 422],
    parameters=[LOT_PARAMETER, DAY_PARAMETER],
)  # fmt: skip
async def get_lot_day(call: Call) -> LotDayDocument:
    day = day_of(call.request.match_info["day"])
    figures = await lot_day(parking_uows(call), lot_id_of(call), day)
    return day_document(figures)
