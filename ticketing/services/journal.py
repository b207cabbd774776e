"""Use cases of the device journal: store an upload the backend has judged, tap by tap, and
finance's work on the taps it quarantined (`ticketing.journal` has the rules).

`ingest_journal` attributes each accepted tap to the account its credential was issued to and
checks its time and place against the device's binding and the fare feed. Taps that pass are
stored and their account-days queued for pricing; the others go to quarantine with their
reason. Refused decisions are stored for counting. All in one transaction, acknowledged after
its commit: a re-upload stores nothing twice, wherever its records went the first time.

`resolve_quarantined` attributes a quarantined tap to an account (stored then as a tap, its
days queued: priced as a late tap of its day) or writes it off, with who and why, in the audit
log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.devices import DeviceKind
from ticketing.errors import (
    NotAttributable,
    QuarantineResolved,
    UnknownDevice,
    UnknownQuarantinedTap,
    WrongDeviceKind,
)
from ticketing.fares.feed import FareFeed
from ticketing.journal import (
    AttributedTap,
    FeedPlaces,
    JournalRefusal,
    JournalTap,
    QuarantinedTap,
    QuarantineReason,
    QuarantineStatus,
    RefusalCount,
    Resolution,
    judge_upload,
)
from ticketing.services import audit
from ticketing.services.pricing import account_days
from ticketing.settlement.calendar import day_window
from ticketing.stores.journal import Quarantining, body
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class JournalUpload:
    """What storing an upload did. `new + duplicate == received` (taps and refusals);
    `conflicting` lists taps' sequence numbers stored earlier with another body (the stored
    one kept); `quarantined` the sequence numbers of this upload's taps newly quarantined,
    with their reason."""

    received: int
    new: int
    duplicate: int
    conflicting: tuple[int, ...]
    quarantined: tuple[tuple[int, QuarantineReason], ...]
    new_refusals: tuple[JournalRefusal, ...]


def feed_places(feed: FareFeed) -> FeedPlaces:
    """The fare feed's stops, routes and stations, as taps are checked against them."""
    stops = feed.gtfs.stops
    return FeedPlaces(
        stops=frozenset(stops),
        routes=frozenset(feed.gtfs.routes),
        station_of={s.stop_id: s.parent_station or s.stop_id for s in stops.values()},
    )


async def ingest_journal(
    uows: UnitOfWorkFactory,
    device_id: str,
    taps: Sequence[JournalTap],
    refusals: Sequence[JournalRefusal] = (),
    *,
    feed: FareFeed,
    places: FeedPlaces,
) -> JournalUpload:
    """Judge and store one device's upload (see the module docstring). Raises UnknownDevice
    for a device the registry does not hold, WrongDeviceKind for a barrier."""

    async def ingest(uow: UnitOfWork) -> JournalUpload:
        device = await uow.device_registry.get(device_id)
        if device is None:
            raise UnknownDevice(f"no device {device_id!r} is registered")
        if device.kind is DeviceKind.BARRIER:
            raise WrongDeviceKind(
                f"{device_id} is a barrier: it uploads to /device/v1/parking/journal"
            )
        now = uow.clock()
        credentials = await uow.riders.owners(t.credential_id for t in taps)
        good, judged = judge_upload(
            taps, device.binding, places, credentials, now, device.enrolled_at
        )
        bad: list[Quarantining] = []
        for tap, verdict in judged:
            assert verdict.reason is not None
            bad.append(Quarantining(tap, verdict.reason, verdict.detail))
        # A record seen before is a repeat wherever it went the first time (its credential
        # may have been issued or revoked since): never stored again in the other table, and
        # a conflict if it says something else now.
        conflicts: set[int] = set()
        if good:
            held = await uow.journal.quarantined_bodies((t.device_id, t.device_seq) for t in good)
            conflicts.update(
                t.device_seq for t in good if (t.device_id, t.device_seq) in held
                and held[t.device_id, t.device_seq] != body(t)
            )  # fmt: skip
            good = [t for t in good if (t.device_id, t.device_seq) not in held]
        result = await uow.taps.ingest(good)
        conflicts.update(seq for _, seq in result.conflicts)
        if result.inserted:
            await uow.pricing_queue.mark(account_days(feed, good))
        if bad:
            stored = await uow.journal.tap_bodies((q.tap.device_id, q.tap.device_seq) for q in bad)
            conflicts.update(
                q.tap.device_seq for q in bad if (q.tap.device_id, q.tap.device_seq) in stored
                and stored[q.tap.device_id, q.tap.device_seq] != body(q.tap)
            )  # fmt: skip
            bad = [q for q in bad if (q.tap.device_id, q.tap.device_seq) not in stored]
        quarantined = await uow.journal.quarantine(bad)
        repeats = [q.tap for q in bad if (q.tap.device_id, q.tap.device_seq) not in quarantined]
        if repeats:
            held = await uow.journal.quarantined_bodies(
                (t.device_id, t.device_seq) for t in repeats
            )
            conflicts.update(
                t.device_seq for t in repeats if held.get((t.device_id, t.device_seq)) != body(t)
            )
        counted = await uow.journal.add_refusals(refusals)
        # Kept for the device's conflicting-records alarm: otherwise only the device hears.
        await uow.device_health.record_conflicts(device_id, conflicts, now)
        new = result.inserted + len(quarantined) + len(counted)
        return JournalUpload(
            received=len(taps) + len(refusals),
            new=new,
            duplicate=len(taps) + len(refusals) - new,
            conflicting=tuple(sorted(conflicts)),
            quarantined=tuple(
                (q.tap.device_seq, q.reason)
                for q in bad
                if (q.tap.device_id, q.tap.device_seq) in quarantined
            ),
            new_refusals=tuple(r for r in refusals if (r.device_id, r.device_seq) in counted),
        )

    return await run_in_uow(uows, ingest)


async def quarantined_taps(
    uows: UnitOfWorkFactory, day: date, *, status: QuarantineStatus | None = None
) -> list[QuarantinedTap]:
    """The taps of service day `day` in quarantine (open, resolved, or of one status).
    Raises DayOutOfRange for a day no settlement can have."""
    async with uows() as uow:
        return await uow.journal.between(*day_window(day), status)


async def get_quarantined(uows: UnitOfWorkFactory, quarantine_id: int) -> QuarantinedTap:
    async with uows() as uow:
        found = await uow.journal.get(quarantine_id)
    if found is None:
        raise UnknownQuarantinedTap(f"no quarantined tap {quarantine_id}")
    return found


async def resolve_quarantined(
    uows: UnitOfWorkFactory,
    quarantine_id: int,
    resolution: Resolution,
    *,
    feed: FareFeed,
    who: Actor,
    reason: str,
    account_id: str | None = None,
) -> QuarantinedTap:
    """Attribute a quarantined tap to `account_id` or write it off, with who and why (in the
    audit log as tap-resolved). An attributed tap is stored as a tap of that account and its
    account-days queued for pricing: a tap of a settled day is then a late tap, an adjustment
    of the next settlement. Raises UnknownQuarantinedTap, QuarantineResolved, or
    NotAttributable (a tap whose place or time cannot be priced, an unknown account, an
    attribution without one or a write-off with one)."""
    note = reason.strip()
    if not note or len(note) > MAX_NOTE or not note.isprintable():
        raise NotAttributable(f"give the reason: 1-{MAX_NOTE} printable characters")
    if resolution is Resolution.ATTRIBUTE and not account_id:
        raise NotAttributable("attributing a tap needs the account it is attributed to")
    if resolution is Resolution.WRITE_OFF and account_id:
        raise NotAttributable("a tap written off is attributed to no account")

    async def resolve(uow: UnitOfWork) -> QuarantinedTap:
        found = await uow.journal.get(quarantine_id)
        if found is None:
            raise UnknownQuarantinedTap(f"no quarantined tap {quarantine_id}")
        if found.status is not QuarantineStatus.OPEN:
            raise QuarantineResolved(
                f"quarantined tap {quarantine_id} was {found.status.value.replace('_', ' ')} "
                f"by {found.resolved_by} already"
            )
        status = QuarantineStatus.WRITTEN_OFF
        if resolution is Resolution.ATTRIBUTE:
            assert account_id is not None
            if not found.reason.attributable:
                raise NotAttributable(
                    f"a tap quarantined as {found.reason.value} cannot be priced: write it off"
                )
            if await uow.riders.find_account(account_id) is None:
                raise NotAttributable(f"no account {account_id!r}")
            tap = AttributedTap(
                found.device_id, found.device_seq, found.credential_id, account_id, found.at,
                found.route_id, found.stop_id, found.kind,
            )  # fmt: skip
            await uow.taps.ingest([tap])
            await uow.pricing_queue.mark(account_days(feed, [tap]))
            status = QuarantineStatus.ATTRIBUTED
        if not await uow.journal.resolve(
            quarantine_id, status, account_id=account_id, by=who.name, note=note
        ):
            raise QuarantineResolved(f"quarantined tap {quarantine_id} was resolved meanwhile")
        await audit.record(
            uow, who, AuditAction.TAP_RESOLVED,
            Target(TargetKind.QUARANTINED_TAP, str(quarantine_id)),
            before={"status": found.status.value, "reason": found.reason.value},
            after={"status": status.value, "account": account_id},
            reason=note,
        )  # fmt: skip
        resolved = await uow.journal.get(quarantine_id)
        assert resolved is not None
        return resolved

    return await run_in_uow(uows, resolve)


async def refusal_counts(
    uows: UnitOfWorkFactory,
    since: datetime,
    *,
    device_id: str | None = None,
    stop_id: str | None = None,
) -> list[RefusalCount]:
    """Refused decisions made since `since`, per device, stop and reason."""
    async with uows() as uow:
        return await uow.journal.refusal_counts(since, device_id=device_id, stop_id=stop_id)
