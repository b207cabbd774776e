"""Problems riders report on their trips ("report a problem": a missed tap-out charged the
longest fare, a double charge), and finance's decision on each, as parking's unable-to-collect
cases are followed (`parking.cases`): a status, every decision by a named user with a reason
and in the audit log (`case-updated`, target `case` `trip:<id>`), the rider shown the outcome.

A case names one priced trip of the account (its service day, start and route: what the trips
page shows) and keeps what it cost. Reporting the same trip again while its case is open is
that case. Finance either refunds (at most the trip's fare) through the ledger, the trip's
operator giving it back to the rider's wallet or off what they owe (`postings.trip_refund`),
or declines with the reason the rider reads. A decided case is not decided again.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.errors import RefundAboveFare, TripCaseClosed, UnknownRecord
from ticketing.money import Money
from ticketing.postings import trip_refund
from ticketing.riders import TripCase, TripCaseKind, TripCaseStatus
from ticketing.services.audit import record
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

MAX_NOTE = 500
MAX_LISTED = 200


def _target(case: TripCase) -> Target:
    return Target(TargetKind.CASE, f"trip:{case.id}")


def _snapshot(case: TripCase) -> dict[str, object]:
    return {
        "status": case.status.value,
        "kind": case.kind.value,
        "fare": case.fare.amount,
        "refunded": None if case.refunded is None else case.refunded.amount,
        "reason": case.reason,
    }


async def report_problem(
    uows: UnitOfWorkFactory,
    account_id: str,
    *,
    service_day: date,
    started_at: datetime,
    route_id: str,
    kind: TripCaseKind,
    note: str,
    at: datetime,
) -> TripCase:
    """Open a case on the account's trip (UnknownRecord: no such priced trip of the account);
    the open case of that trip if there is one."""

    async def report(uow: UnitOfWork) -> TripCase:
        held = await uow.trip_cases.open_for_trip(account_id, service_day, started_at, route_id)
        if held is not None:
            return held
        legs = await uow.pricing.latest_legs_between(account_id, service_day, service_day)
        leg = next(
            (row for row in legs if row.started_at == started_at and row.route_id == route_id),
            None,
        )
        if leg is None:
            raise UnknownRecord(
                f"no trip on route {route_id[:64]!r} at {started_at.isoformat()} "
                f"on {service_day.isoformat()} in this account"
            )
        case = TripCase(
            "tc-" + secrets.token_hex(8), account_id, service_day, leg.started_at, route_id,
            leg.operator_id, Money(leg.amount, leg.currency), kind, note.strip()[:MAX_NOTE],
            TripCaseStatus.OPEN, at,
        )  # fmt: skip
        await uow.trip_cases.save(case)
        return case

    return await run_in_uow(uows, report)


async def cases(
    uows: UnitOfWorkFactory,
    *,
    account_id: str | None = None,
    status: TripCaseStatus | None = None,
    limit: int = MAX_LISTED,
) -> list[TripCase]:
    """Cases newest first: one rider's (their page), or every rider's of a status (finance)."""
    async with uows() as uow:
        return await uow.trip_cases.listed(account_id=account_id, status=status, limit=limit)


async def resolve_case(
    uows: UnitOfWorkFactory,
    case_id: str,
    *,
    refund: bool,
    amount: int | None = None,
    reason: str,
    by: Actor,
    at: datetime,
) -> TripCase:
    """Finance's decision: refund `amount` (minor units, 1..the trip's fare; None: all of it)
    through the ledger, or decline. `reason` is what the rider reads. UnknownRecord,
    TripCaseClosed (decided already), RefundAboveFare."""

    async def resolve(uow: UnitOfWork) -> TripCase:
        case = await uow.trip_cases.find(case_id[:40])
        if case is None:
            raise UnknownRecord(f"no trip case {case_id[:40]!r}")
        if case.status is not TripCaseStatus.OPEN:
            raise TripCaseClosed(f"trip case {case.id} was {case.status.value} already")
        given = (case.fare.amount if amount is None else amount) if refund else None
        if given is not None and not 0 < given <= case.fare.amount:
            raise RefundAboveFare(
                f"a refund of this case is 1 to {case.fare.amount} {case.fare.currency} "
                f"(the trip's fare), not {given}"
            )
        decided = TripCase(
            case.id, case.account_id, case.service_day, case.started_at, case.route_id,
            case.operator_id, case.fare, case.kind, case.note,
            TripCaseStatus.DECLINED if given is None else TripCaseStatus.REFUNDED,
            case.opened_at, at, by.name,
            None if given is None else Money(given, case.fare.currency), reason.strip(),
        )  # fmt: skip
        if decided.refunded is not None:
            account = await uow.riders.get_account(case.account_id)
            await uow.ledger.post(
                trip_refund(case.id, account, case.operator_id, decided.refunded, at)
            )
        await uow.trip_cases.save(decided)
        await record(
            uow, by, AuditAction.CASE_UPDATED, _target(case),
            before=_snapshot(case), after=_snapshot(decided), reason=reason.strip(),
        )  # fmt: skip
        return decided

    return await run_in_uow(uows, resolve)
