"""The follow-up of cars that left without paying (the unable-to-collect cases).

A case is `open` when the barrier's exit is applied. Then:

- **notified**: the rider is told through the outbox (`ticketing.outbox`, template
  `parking-unpaid`, once per case by its dedup key); only a case with an account can be;
- **collected**: a case whose debt went on the account's receivable is collected when that
  receivable is paid off (the daily charge, a top-up): `mark_paid_cases` finds them (the case
  listing does it first, so what an operator sees is current); a case without an account (no
  debt to collect: a lost credential, a plate) is collected when the operator says the driver
  paid at the lot;
- **written off**: the operator gives up, with a reason; the debt is reversed so the rider is
  not charged for it, and the operator's payable loses it.

Every change is in the audit log (`case-updated`, before and after, the reason). Cases are
found by plate, lot, local day and status, and exported as CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from parking.errors import CaseError, UnknownCase
from parking.occupancy_history import day_window
from parking.records import CaseRecord, CaseStatus
from parking.sessions import plate_key
from parking.unit_of_work import ParkingUnitOfWork, ParkingUnitOfWorkFactory
from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.ledger import accounts
from ticketing.outbox.messages import Channel, Message, Template
from ticketing.outbox.protocol import Outbox
from ticketing.service_day import DEFAULT_TIMEZONE
from ticketing.services.audit import record
from ticketing.unit_of_work import run_in_uow

ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # a case's day, as the operator's page and CSV say it
PAYMENTS = Actor.administrator("faregate")  # who marks a case whose debt was paid
MAX_CASES = 1000
MAX_REASON = 500


def _snapshot(case: CaseRecord) -> dict[str, object]:
    return {
        "status": case.status.value,
        "amount": case.amount,
        "currency": case.currency,
        "notified_at": None if case.notified_at is None else case.notified_at.isoformat(),
        "resolved_by": case.resolved_by,
    }


async def _change(
    uow: ParkingUnitOfWork, before: CaseRecord, after: CaseRecord, by: Actor, reason: str | None
) -> CaseRecord:
    await uow.parking.save_case(after)
    await record(
        uow,
        by,
        AuditAction.CASE_UPDATED,
        Target(TargetKind.CASE, after.session_id),
        before=_snapshot(before),
        after=_snapshot(after),
        reason=reason,
    )
    return after


async def _case(uow: ParkingUnitOfWork, session_id: str) -> CaseRecord:
    case = await uow.parking.find_case(session_id)
    if case is None:
        raise UnknownCase(f"no unable-to-collect case for session {session_id!r}")
    return case


async def notify_case(
    uows: ParkingUnitOfWorkFactory, outbox: Outbox, session_id: str, *, by: Actor
) -> CaseRecord:
    """Tell the rider what they owe (once: the outbox keeps one message per case), then mark
    the case notified. CaseError for a case without an account or resolved already."""
    async with uows() as uow:
        case = await _case(uow, session_id)
        lot = await uow.parking.get_lot(case.lot_id)
    if case.account_id is None:
        raise CaseError(f"case {session_id} has no account to tell; follow it up by plate")
    if case.status.resolved:
        raise CaseError(f"case {session_id} is {case.status.value.replace('_', ' ')} already")
    await outbox.send(
        Message(
            account_id=case.account_id,
            channel=Channel.SMS,
            template=Template.PARKING_UNPAID,
            parameters={
                "lot": lot.name[:200],
                "day": case.at.astimezone(ZONE).date().isoformat(),
                "amount": case.amount,
                "currency": case.currency,
            },
            created_at=uows.clock(),
            dedup_key=f"parking-unpaid:{session_id}",
        )
    )

    async def use_case(uow: ParkingUnitOfWork) -> CaseRecord:
        before = await _case(uow, session_id)
        if before.status is not CaseStatus.OPEN:
            return before  # told already (or resolved meanwhile): nothing more to record
        after = replace(before, status=CaseStatus.NOTIFIED, notified_at=uow.clock())
        return await _change(uow, before, after, by, None)

    return await run_in_uow(uows, use_case)


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not 0 < len(reason) <= MAX_REASON or not reason.isprintable():
        raise CaseError(f"say why in 1-{MAX_REASON} printable characters")
    return reason


async def write_off_case(
    uows: ParkingUnitOfWorkFactory, session_id: str, *, reason: str, by: Actor
) -> CaseRecord:
    """Give a case up: the debt (if any) is reversed, so the rider is not charged for it."""
    why = _reason(reason)

    async def use_case(uow: ParkingUnitOfWork) -> CaseRecord:
        before = await _case(uow, session_id)
        if before.status.resolved:
            raise CaseError(f"case {session_id} is {before.status.value.replace('_', ' ')} already")
        if before.debt_posting_id is not None:
            await uow.ledger.reverse(
                before.debt_posting_id,
                f"{before.debt_posting_id}:reversal",
                description=f"parking debt of {session_id} written off: {why}",
            )
        after = replace(
            before,
            status=CaseStatus.WRITTEN_OFF,
            resolved_at=uow.clock(),
            resolved_by=by.name,
            resolution=why,
        )
        return await _change(uow, before, after, by, why)

    return await run_in_uow(uows, use_case)


async def collect_case(
    uows: ParkingUnitOfWorkFactory, session_id: str, *, note: str, by: Actor
) -> CaseRecord:
    """The driver of a case without an account paid at the lot (the operator has the money;
    nothing is posted). A case with a debt on an account is collected when that is paid."""
    why = _reason(note)

    async def use_case(uow: ParkingUnitOfWork) -> CaseRecord:
        before = await _case(uow, session_id)
        if before.status.resolved:
            raise CaseError(f"case {session_id} is {before.status.value.replace('_', ' ')} already")
        if before.debt_posting_id is not None:
            raise CaseError(
                f"case {session_id} is a debt on account {before.account_id}: it is collected "
                "when the account pays it (or write it off)"
            )
        after = replace(
            before,
            status=CaseStatus.COLLECTED,
            resolved_at=uow.clock(),
            resolved_by=by.name,
            resolution=why,
        )
        return await _change(uow, before, after, by, why)

    return await run_in_uow(uows, use_case)


async def mark_paid_cases(uows: ParkingUnitOfWorkFactory) -> list[CaseRecord]:
    """Mark collected every unresolved case whose account owes nothing any more (its
    receivable paid off by the daily charge or a top-up); returns them."""

    async def use_case(uow: ParkingUnitOfWork) -> list[CaseRecord]:
        waiting = [
            case
            for case in await uow.parking.cases(
                statuses=frozenset({CaseStatus.OPEN, CaseStatus.NOTIFIED})
            )
            if case.debt_posting_id is not None and case.account_id is not None
        ]
        owing = {accounts.receivable(case.account_id or "") for case in waiting}
        states = await uow.ledger.accounts(sorted(owing))
        paid = []
        for case in waiting:
            code = accounts.receivable(case.account_id or "")
            if code in states and states[code].balance > 0:
                continue  # the account still owes something: this debt may be in it
            after = replace(
                case,
                status=CaseStatus.COLLECTED,
                resolved_at=uow.clock(),
                resolved_by=PAYMENTS.name,
                resolution="the account's debt was paid",
            )
            paid.append(await _change(uow, case, after, PAYMENTS, None))
        return paid

    return await run_in_uow(uows, use_case)


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseQuery:
    """Which cases: by plate (compared normalised), lot, local day of the exit, status."""

    plate: str | None = None
    lot_id: str | None = None
    day: date | None = None
    status: CaseStatus | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseView:
    case: CaseRecord
    lot_name: str
    entered_at: datetime


async def find_cases(uows: ParkingUnitOfWorkFactory, query: CaseQuery) -> list[CaseView]:
    """The cases `query` selects, newest first (at most MAX_CASES), after marking those whose
    debt was paid."""
    await mark_paid_cases(uows)
    since = until = None
    if query.day is not None:
        since, until = day_window(query.day, ZONE)
    plate = None if query.plate is None else plate_key(query.plate)
    async with uows() as uow:
        cases = await uow.parking.cases(
            query.lot_id,
            since=since,
            until=until,
            plate=plate,
            statuses=None if query.status is None else frozenset({query.status}),
        )
        names = {lot.lot_id: lot.name for lot in await uow.parking.lots()}
        newest = sorted(cases, key=lambda c: (c.at, c.session_id), reverse=True)[:MAX_CASES]
        return [
            CaseView(
                case=case,
                lot_name=names.get(case.lot_id, case.lot_id),
                entered_at=(await uow.parking.get_session(case.session_id)).entry_at,
            )
            for case in newest
        ]


CSV_COLUMNS = (
    "session", "lot", "lot_name", "plate", "account", "entered", "left", "amount", "currency",
    "reason", "status", "notified", "resolved", "resolved_by", "resolution",
)  # fmt: skip


def _local(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(ZONE).isoformat(timespec="seconds")


def cases_csv(views: Sequence[CaseView]) -> str:
    """The cases as CSV (UTF-8 text, a header row; times in Hanoi time with their offset,
    amounts in minor units)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for view in views:
        case = view.case
        writer.writerow(
            [
                case.session_id, case.lot_id, view.lot_name, case.plate or "",
                case.account_id or "", _local(view.entered_at), _local(case.at), case.amount,
                case.currency, case.reason, case.status.value, _local(case.notified_at),
                _local(case.resolved_at), case.resolved_by or "", case.resolution or "",
            ]
        )  # fmt: skip
    return out.getvalue()
