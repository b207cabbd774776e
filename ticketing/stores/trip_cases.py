"""Trip cases (`trip_cases`): what riders reported on their trips and finance's decisions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.trip_case_models import TripCaseRow
from ticketing.money import Money
from ticketing.riders import TripCase, TripCaseKind, TripCaseStatus


def _case(row: TripCaseRow) -> TripCase:
    return TripCase(
        row.id,
        row.account_id,
        row.service_day,
        row.started_at,
        row.route_id,
        row.operator_id,
        Money(row.fare, row.currency),
        TripCaseKind(row.kind),
        row.note,
        TripCaseStatus(row.status),
        row.opened_at,
        row.resolved_at,
        row.resolved_by,
        None if row.refunded is None else Money(row.refunded, row.currency),
        row.reason,
    )


class TripCases:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(self, case: TripCase) -> None:
        """Add the case, or write its decision over the open one."""
        await self._session.merge(
            TripCaseRow(
                id=case.id,
                account_id=case.account_id,
                service_day=case.service_day,
                started_at=case.started_at,
                route_id=case.route_id,
                operator_id=case.operator_id,
                fare=case.fare.amount,
                currency=case.fare.currency,
                kind=case.kind.value,
                note=case.note,
                status=case.status.value,
                opened_at=case.opened_at,
                resolved_at=case.resolved_at,
                resolved_by=case.resolved_by,
                refunded=None if case.refunded is None else case.refunded.amount,
                reason=case.reason,
            )
        )
        await self._session.flush()

    async def find(self, case_id: str) -> TripCase | None:
        row = await self._session.get(TripCaseRow, case_id, populate_existing=True)
        return None if row is None else _case(row)

    async def open_for_trip(
        self, account_id: str, service_day: date, started_at: datetime, route_id: str
    ) -> TripCase | None:
        row = await self._session.scalar(
            select(TripCaseRow).where(
                TripCaseRow.account_id == account_id,
                TripCaseRow.service_day == service_day,
                TripCaseRow.started_at == started_at,
                TripCaseRow.route_id == route_id,
                TripCaseRow.status == TripCaseStatus.OPEN.value,
            )
        )
        return None if row is None else _case(row)

    async def listed(
        self, *, account_id: str | None, status: TripCaseStatus | None, limit: int
    ) -> list[TripCase]:
        """Cases newest first, of one account and/or one status."""
        query = select(TripCaseRow)
        if account_id is not None:
            query = query.where(TripCaseRow.account_id == account_id)
        if status is not None:
            query = query.where(TripCaseRow.status == status.value)
        rows = await self._session.scalars(
            query.order_by(TripCaseRow.opened_at.desc(), TripCaseRow.id).limit(limit)
        )
        return [_case(row) for row in rows]
