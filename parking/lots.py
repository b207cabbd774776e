"""Lots and their tariffs as an operator runs them: create and change a lot, upload a tariff
(a draft, checked field by field), preview quotes with it, schedule it, cancel it.

Every change is one transaction with its audit line (`ticketing.services.audit.record`): a lot
created or changed (`lot-changed`, the configuration before and after), a tariff uploaded,
scheduled or cancelled (`tariff-changed`). The CLI (`faregate lots`), the operator API and the
operator page all call these.

A lot's currency is its first tariff's and never changes (its fees, holds and permits are in
it); a tariff in another currency is refused. A version is scheduled from now or a later time,
never an earlier one: barriers have priced the stays entered since with the version in force
then, and those prices stand (`parking.tariff_versions`: the rule). A version that is or was
in force cannot be cancelled, for the same reason; a later one replaces it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from faregate_data.operators import load_operators
from parking.errors import (
    LotError,
    LotExists,
    QuoteError,
    TariffScheduleError,
    UnknownTariffVersion,
)
from parking.occupancy import Occupancy
from parking.records import LotConfig, LotKind, check_lot
from parking.services import lot_snapshot
from parking.tariff import Tariff
from parking.tariff_files import parse_tariff
from parking.tariff_versions import TariffVersion, in_force, upcoming
from parking.unit_of_work import ParkingUnitOfWork, ParkingUnitOfWorkFactory
from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.services.audit import record
from ticketing.unit_of_work import run_in_uow

MAX_DOCUMENT = 64 * 1024  # characters of a tariff file: the shipped ones are under 3,000


@functools.cache
def shipped_operators() -> frozenset[str]:
    """The operator ids of the shipped registry (`data/operators.toml`)."""
    return frozenset(load_operators())


def _check_operator(operator: str, operators: Collection[str] | None) -> None:
    known = shipped_operators() if operators is None else operators
    if operator not in known:
        names = ", ".join(sorted(known))
        raise LotError("operator", f"no operator {operator!r} in the registry (known: {names})")


def read_tariff(document: str, source: str) -> Tariff:
    """A tariff document as uploaded, checked: TariffError, or TariffErrors listing each
    field and reason when there are several."""
    if len(document) > MAX_DOCUMENT:
        raise LotError("tariff", f"a tariff file has at most {MAX_DOCUMENT:,} characters")
    return parse_tariff(document, source=source)


# --- lots -----------------------------------------------------------------------------------


async def add_lot(
    uows: ParkingUnitOfWorkFactory,
    lot: LotConfig,
    tariff: str,
    *,
    by: Actor,
    source: str = "tariff",
    operators: Collection[str] | None = None,
    occupancy: Occupancy | None = None,
) -> LotConfig:
    """Create a lot with its first tariff (the document `tariff`, in force from now; it also
    prices any stay its barriers journaled before). `operators`: the ids a lot may name
    (default: the shipped registry). LotError, LotExists, TariffError(s)."""
    check_lot(lot)
    _check_operator(lot.operator, operators)
    parsed = read_tariff(tariff, source)
    if parsed.currency != lot.currency:
        raise LotError("currency", f"the tariff charges {parsed.currency}, not {lot.currency}")

    async def use_case(uow: ParkingUnitOfWork) -> LotConfig:
        if await uow.parking.find_lot(lot.lot_id) is not None:
            raise LotExists(f"lot {lot.lot_id!r} exists; change it with `lots edit`")
        await uow.parking.save_lot(lot)
        version = await uow.parking.add_tariff_version(
            lot.lot_id, tariff, created_by=by.name, effective_from=uow.clock()
        )
        await record(
            uow,
            by,
            AuditAction.LOT_CHANGED,
            Target(TargetKind.LOT, lot.lot_id),
            after={**lot_snapshot(lot), "tariff": _version_snapshot(version)},
        )
        return lot

    created = await run_in_uow(uows, use_case)
    if occupancy is not None:
        await occupancy.configure(lot.lot_id, capacity=lot.capacity, reserved=lot.reserved)
        await occupancy.correct(lot.lot_id, 0)
    return created


@dataclass(frozen=True, slots=True, kw_only=True)
class LotChanges:
    """What to change of a lot; None leaves a field as it is (`clear_location` removes the
    coordinates and address)."""

    name: str | None = None
    operator: str | None = None
    capacity: int | None = None
    reserved: int | None = None
    passback: str | None = None
    hold_amount: int | None = None
    kind: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    address: str | None = None
    permit_price: int | None = None

    def given(self) -> dict[str, Any]:
        """The fields to change, as a lot holds them."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        given = {name: value for name, value in given.items() if value is not None}
        if "kind" in given:
            try:
                given["kind"] = LotKind(given["kind"])
            except ValueError:
                kinds = ", ".join(kind.value for kind in LotKind)
                raise LotError("kind", f"must be one of {kinds}") from None
        return given


async def edit_lot(
    uows: ParkingUnitOfWorkFactory,
    lot_id: str,
    changes: LotChanges,
    *,
    by: Actor,
    reason: str | None = None,
    operators: Collection[str] | None = None,
    occupancy: Occupancy | None = None,
) -> LotConfig:
    """Change a lot's configuration (capacity, reserved spaces, name, operator, place...).
    Its barriers get it on their next sync; the live count keeps its vehicles. UnknownLot,
    LotError (naming the field)."""
    given = changes.given()
    if not given:
        raise LotError("changes", "nothing to change")
    if "operator" in given:
        _check_operator(given["operator"], operators)

    async def use_case(uow: ParkingUnitOfWork) -> LotConfig:
        before = await uow.parking.lot_for_update(lot_id)
        after = replace(before, **given)
        check_lot(after)
        if after == before:
            return after
        await uow.parking.save_lot(after)
        await record(
            uow,
            by,
            AuditAction.LOT_CHANGED,
            Target(TargetKind.LOT, lot_id),
            before=lot_snapshot(before),
            after=lot_snapshot(after),
            reason=reason,
        )
        return after

    edited = await run_in_uow(uows, use_case)
    if occupancy is not None:
        await occupancy.configure(lot_id, capacity=edited.capacity, reserved=edited.reserved)
    return edited


# --- tariffs --------------------------------------------------------------------------------


def _version_snapshot(version: TariffVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "tariff_id": version.tariff.id,
        "digest": version.digest,
        "status": version.status,
        "effective_from": None
        if version.effective_from is None
        else version.effective_from.isoformat(),
    }


async def upload_tariff(
    uows: ParkingUnitOfWorkFactory, lot_id: str, document: str, *, by: Actor, source: str = "upload"
) -> TariffVersion:
    """Store a tariff file as a draft of the lot's next version, checked first: TariffError
    (or TariffErrors with every field and reason), LotError for another currency."""
    tariff = read_tariff(document, source)
    return await run_in_uow(uows, lambda uow: _upload(uow, lot_id, document, tariff, by))


async def _upload(
    uow: ParkingUnitOfWork, lot_id: str, document: str, tariff: Tariff, by: Actor
) -> TariffVersion:
    lot = await uow.parking.lot_for_update(lot_id)
    if tariff.currency != lot.currency:
        raise LotError(
            "currency", f"lot {lot_id} charges {lot.currency}; this tariff {tariff.currency}"
        )
    version = await uow.parking.add_tariff_version(
        lot_id, document, created_by=by.name, effective_from=None
    )
    await record(
        uow,
        by,
        AuditAction.TARIFF_CHANGED,
        Target(TargetKind.TARIFF, f"{lot_id}:v{version.version}"),
        after=_version_snapshot(version),
    )
    return version


async def _changeable(uow: ParkingUnitOfWork, lot_id: str, number: int) -> TariffVersion:
    """The version, if it may still be scheduled or cancelled: not cancelled, and not in force
    now or before (it priced stays)."""
    await uow.parking.lot_for_update(lot_id)
    versions = await uow.parking.tariff_versions(lot_id)
    version = next((v for v in versions if v.version == number), None)
    if version is None:
        raise UnknownTariffVersion(f"lot {lot_id!r} has no tariff version {number}")
    if version.cancelled_at is not None:
        raise TariffScheduleError(f"version {number} of {lot_id} was cancelled; upload it again")
    now = uow.clock()
    if version.effective_from is not None and version.effective_from <= now:
        raise TariffScheduleError(
            f"version {number} of {lot_id} came into force at "
            f"{version.effective_from.isoformat()} and has priced stays; schedule a new version"
        )
    return version


async def schedule_tariff(
    uows: ParkingUnitOfWorkFactory,
    lot_id: str,
    number: int,
    effective_from: datetime | None = None,
    *,
    by: Actor,
) -> TariffVersion:
    """Put a draft (or a version not yet in force) in force from `effective_from` (None: now).
    Entries from then on are priced with it; barriers get it on their next sync, before it
    applies. TariffScheduleError for a time in the past."""
    return await run_in_uow(uows, lambda uow: _schedule(uow, lot_id, number, effective_from, by))


async def _schedule(
    uow: ParkingUnitOfWork, lot_id: str, number: int, effective_from: datetime | None, by: Actor
) -> TariffVersion:
    version = await _changeable(uow, lot_id, number)
    now = uow.clock()
    when = now if effective_from is None else effective_from
    if when.tzinfo is None or when.utcoffset() is None:
        raise TariffScheduleError("a time to come into force needs its time zone")
    if when < now:
        raise TariffScheduleError(
            f"{when.isoformat()} is in the past; a tariff comes into force now or later"
        )
    scheduled = await uow.parking.set_tariff_schedule(lot_id, number, effective_from=when)
    await record(
        uow,
        by,
        AuditAction.TARIFF_CHANGED,
        Target(TargetKind.TARIFF, f"{lot_id}:v{number}"),
        before=_version_snapshot(version),
        after=_version_snapshot(scheduled),
    )
    return scheduled


async def replace_tariff(
    uows: ParkingUnitOfWorkFactory,
    lot_id: str,
    document: str,
    effective_from: datetime | None = None,
    *,
    by: Actor,
    source: str = "upload",
) -> TariffVersion:
    """Upload a tariff and schedule it from `effective_from` (None: now) in one step: both or
    neither (`faregate lots edit --tariff`)."""
    tariff = read_tariff(document, source)

    async def use_case(uow: ParkingUnitOfWork) -> TariffVersion:
        draft = await _upload(uow, lot_id, document, tariff, by)
        return await _schedule(uow, lot_id, draft.version, effective_from, by)

    return await run_in_uow(uows, use_case)


async def cancel_tariff(
    uows: ParkingUnitOfWorkFactory, lot_id: str, number: int, *, by: Actor, reason: str
) -> TariffVersion:
    """Withdraw a draft or a version not yet in force (with the reason, for the audit log)."""
    if not reason.strip():
        raise LotError("reason", "say why the version is cancelled")

    async def use_case(uow: ParkingUnitOfWork) -> TariffVersion:
        version = await _changeable(uow, lot_id, number)
        cancelled = await uow.parking.set_tariff_schedule(lot_id, number, cancelled_by=by.name)
        await record(
            uow,
            by,
            AuditAction.TARIFF_CHANGED,
            Target(TargetKind.TARIFF, f"{lot_id}:v{number}"),
            before=_version_snapshot(version),
            after=_version_snapshot(cancelled),
            reason=reason,
        )
        return cancelled

    return await run_in_uow(uows, use_case)


@dataclass(frozen=True, slots=True, kw_only=True)
class LotTariffs:
    """A lot's versions as of `at`: which is in force and which come next."""

    lot: LotConfig
    at: datetime
    versions: tuple[TariffVersion, ...]  # every version, newest first
    in_force: TariffVersion
    upcoming: tuple[TariffVersion, ...]


async def lot_tariffs(uows: ParkingUnitOfWorkFactory, lot_id: str) -> LotTariffs:
    async with uows() as uow:
        lot = await uow.parking.get_lot(lot_id)
        versions = await uow.parking.tariff_versions(lot_id)
        now = uow.clock()
    return LotTariffs(
        lot=lot,
        at=now,
        versions=tuple(reversed(versions)),
        in_force=in_force(versions, now),
        upcoming=tuple(upcoming(versions, now)),
    )


# --- previews -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Stay:
    """A stay to quote: a vehicle class, its entry and its exit (tz-aware)."""

    vehicle: str
    entry: datetime
    exit: datetime
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewRow:
    stay: Stay
    amount: int | None  # with the version previewed (None: it does not price this vehicle)
    current: int | None  # with the version in force at the stay's entry, for comparison


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffPreview:
    lot_id: str
    version: TariffVersion
    current: TariffVersion
    currency: str
    rows: tuple[PreviewRow, ...]


# Typical stays, from 08:00 local on the day after: a few turns by day, a working day, an
# evening into the next morning, a whole day and a long weekend.
_TYPICAL = (
    ("30 min", time(8), timedelta(minutes=30)),
    ("1 h", time(8), timedelta(hours=1)),
    ("2 h", time(8), timedelta(hours=2)),
    ("3 h", time(8), timedelta(hours=3)),
    ("5 h", time(8), timedelta(hours=5)),
    ("Working day (9 h)", time(8), timedelta(hours=9)),
    ("Overnight 19:00-07:00", time(19), timedelta(hours=12)),
    ("24 h", time(8), timedelta(hours=24)),
    ("3 days", time(8), timedelta(days=3)),
)
MAX_PREVIEW_STAYS = 50


def typical_stays(tariff: Tariff, at: datetime) -> list[Stay]:
    """Typical stays of every vehicle class the tariff prices, starting on the day after `at`
    (local to the tariff)."""
    day = at.astimezone(tariff.timezone).date() + timedelta(days=1)
    return [
        Stay(
            vehicle=vehicle,
            entry=(entry := datetime.combine(day, start, tariff.timezone)),
            exit=entry + length,
            label=label,
        )
        for vehicle in sorted(tariff.vehicle_classes)
        for label, start, length in _TYPICAL
    ]


def _quote(tariff: Tariff, stay: Stay) -> int | None:
    try:
        return tariff.quote(stay.vehicle, stay.entry, stay.exit).amount
    except QuoteError:
        return None


async def preview_tariff(
    uows: ParkingUnitOfWorkFactory,
    lot_id: str,
    number: int,
    stays: Sequence[Stay] = (),
) -> TariffPreview:
    """Quotes for `stays` (default: typical stays) with version `number` beside those of the
    version in force at each stay's entry. QuoteError for a stay that cannot be priced at all
    (exit before entry, a naive time)."""
    if len(stays) > MAX_PREVIEW_STAYS:
        raise LotError("stays", f"at most {MAX_PREVIEW_STAYS} stays in one preview")
    async with uows() as uow:
        lot = await uow.parking.get_lot(lot_id)
        versions = await uow.parking.tariff_versions(lot_id)
        now = uow.clock()
    version = next((v for v in versions if v.version == number), None)
    if version is None:
        raise UnknownTariffVersion(f"lot {lot_id!r} has no tariff version {number}")
    chosen = list(stays) or typical_stays(version.tariff, now)
    for stay in chosen:
        for at in (stay.entry, stay.exit):
            if at.tzinfo is None or at.utcoffset() is None:
                raise QuoteError(f"{at.isoformat()}: a stay's times need their time zone")
        if stay.exit < stay.entry:
            raise QuoteError(f"{stay.label or 'a stay'}: exit before entry")
    rows = tuple(
        PreviewRow(
            stay=stay,
            amount=_quote(version.tariff, stay),
            current=_quote(in_force(versions, stay.entry).tariff, stay),
        )
        for stay in chosen
    )
    return TariffPreview(
        lot_id=lot.lot_id,
        version=version,
        current=in_force(versions, now),
        currency=lot.currency,
        rows=rows,
    )


# --- overview -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LotOverview:
    """A lot as configured, the tariff in force and those to come, and its open stays (from
    the sessions: the truth the live count is corrected to)."""

    lot: LotConfig
    tariff: TariffVersion
    upcoming: tuple[TariffVersion, ...]
    open_sessions: int
    updated_at: datetime


async def lots_overview(
    uows: ParkingUnitOfWorkFactory, lot_id: str | None = None
) -> list[LotOverview]:
    """Every lot (or one: UnknownLot if there is no such lot), by name."""
    async with uows() as uow:
        lots = [await uow.parking.get_lot(lot_id)] if lot_id else await uow.parking.lots()
        now = uow.clock()
        found = []
        for lot in sorted(lots, key=lambda lot: (lot.name, lot.lot_id)):
            versions = await uow.parking.tariff_versions(lot.lot_id)
            found.append(
                LotOverview(
                    lot=lot,
                    tariff=in_force(versions, now),
                    upcoming=tuple(upcoming(versions, now)),
                    open_sessions=await uow.parking.count_open(lot.lot_id),
                    updated_at=await uow.parking.lot_updated_at(lot.lot_id),
                )
            )
    return found
