"""Pricing records: each version of an account-day's price and its legs, as recorded.

A day is recorded again (a new version) only when its price changed; the latest version is the
one that counts. Rows are written in bulk and never updated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.dialect import among, bulk_insert, chunks
from ticketing.db.models import PricedDayRow, PricedLegRow, table_of
from ticketing.fares.pricing import DayPrice
from ticketing.postings import UNKNOWN_OPERATOR

PRICED_DAYS = table_of(PricedDayRow)
PRICED_LEGS = table_of(PricedLegRow)


@dataclass(frozen=True, slots=True)
class PricedDayVersion:
    """One recorded version of an account-day: what to record, or what was recorded."""

    account_id: str
    service_day: date
    version: int
    fingerprint: str
    posting_id: str | None


@dataclass(frozen=True, slots=True)
class NewPricedDay:
    """A version to record, with the price it stands for."""

    recorded: PricedDayVersion
    price: DayPrice
    tap_count: int
    priced_at: datetime


@dataclass(frozen=True, slots=True)
class LegSpend:
    """What one recorded leg counted towards caps."""

    network_id: str | None
    amount: int


def journey_indexes(price: DayPrice) -> list[int]:
    """Each leg's journey, numbered 0, 1, ... in the order the day's journeys first appear."""
    numbers: dict[str, int] = {}
    return [numbers.setdefault(leg.journey_id, len(numbers)) for leg in price.legs]


def _rows(new: NewPricedDay) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    recorded, price = new.recorded, new.price
    key = {
        "account_id": recorded.account_id,
        "service_day": recorded.service_day,
        "version": recorded.version,
    }
    day_row = {
        **key,
        "body_hash": recorded.fingerprint,
        "total_amount": price.total.amount,
        "currency": price.total.currency,
        "tap_count": new.tap_count,
        "priced_at": new.priced_at,
        "posting_id": recorded.posting_id,
    }
    leg_rows = [
        {
            **key,
            "leg_index": index,
            "journey_index": journey,
            "operator_id": leg.agency_id or UNKNOWN_OPERATOR,
            "route_id": leg.route_id,
            "from_stop_id": leg.from_stop_id or "",
            "to_stop_id": leg.to_stop_id,
            "started_at": leg.departure,
            "ended_at": leg.arrival,
            "fare_product_id": leg.fare_product_id,
            "amount": leg.charged.amount,
            "undiscounted_amount": leg.undiscounted.amount,
            "currency": leg.charged.currency,
            "journey_id": leg.journey_id,
            "network_id": leg.network_id,
            "incomplete": leg.incomplete,
            "pass_covered": leg.pass_covered,
            "capped": leg.capped,
            "joined": leg.joined,
            "pass_product_id": leg.pass_product_id,
            "transfer_product_id": leg.transfer_product_id,
        }
        for index, (leg, journey) in enumerate(zip(price.legs, journey_indexes(price), strict=True))
    ]
    return day_row, leg_rows


class PricingRecords:
    """Recorded prices of account-days (see the module docstring)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, days: Sequence[NewPricedDay]) -> None:
        """Store new versions and their legs in bulk."""
        day_rows: list[dict[str, Any]] = []
        leg_rows: list[dict[str, Any]] = []
        for new in days:
            day_row, legs = _rows(new)
            day_rows.append(day_row)
            leg_rows.extend(legs)
        await bulk_insert(self._session, PRICED_DAYS, day_rows)
        await bulk_insert(self._session, PRICED_LEGS, leg_rows)

    async def latest(self, account_id: str, day: date) -> PricedDayVersion | None:
        row = await self._session.scalar(
            select(PricedDayRow)
            .where(PricedDayRow.account_id == account_id, PricedDayRow.service_day == day)
            .order_by(PricedDayRow.version.desc())
            .limit(1)
        )
        if row is None:
            return None
        return PricedDayVersion(
            row.account_id, row.service_day, row.version, row.body_hash, row.posting_id
        )

    async def latest_of(
        self, keys: Iterable[tuple[str, date]]
    ) -> dict[tuple[str, date], PricedDayVersion]:
        """The latest recorded version of those account-days that have one."""
        wanted = set(keys)
        days = sorted({day for _, day in wanted})
        latest: dict[tuple[str, date], PricedDayVersion] = {}
        for chunk in chunks(sorted({account for account, _ in wanted})):
            rows = await self._session.execute(
                select(
                    PRICED_DAYS.c.account_id,
                    PRICED_DAYS.c.service_day,
                    PRICED_DAYS.c.version,
                    PRICED_DAYS.c.body_hash,
                    PRICED_DAYS.c.posting_id,
                ).where(PRICED_DAYS.c.account_id.in_(chunk), PRICED_DAYS.c.service_day.in_(days))
            )
            for account_id, day, version, body_hash, posting_id in rows:
                key = (account_id, day)
                known = latest.get(key)
                if key in wanted and (known is None or version > known.version):
                    latest[key] = PricedDayVersion(account_id, day, version, body_hash, posting_id)
        return latest

    async def spend_by_day(
        self, account_ids: Iterable[str], first_day: date, end_day: date
    ) -> dict[tuple[str, date], list[LegSpend]]:
        """The legs of the latest version of each of these accounts' days in
        [first_day, end_day), by account-day, in one query (per IN-list chunk elsewhere than
        PostgreSQL)."""
        spend: dict[tuple[str, date], list[LegSpend]] = {}
        for where in among(self._session, PRICED_DAYS.c.account_id, sorted(set(account_ids))):
            latest = (
                select(
                    PRICED_DAYS.c.account_id,
                    PRICED_DAYS.c.service_day,
                    func.max(PRICED_DAYS.c.version).label("version"),
                )
                .where(
                    where,
                    PRICED_DAYS.c.service_day >= first_day,
                    PRICED_DAYS.c.service_day < end_day,
                )
                .group_by(PRICED_DAYS.c.account_id, PRICED_DAYS.c.service_day)
                .subquery()
            )
            rows = await self._session.execute(
                select(
                    PRICED_LEGS.c.account_id,
                    PRICED_LEGS.c.service_day,
                    PRICED_LEGS.c.network_id,
                    PRICED_LEGS.c.amount,
                ).join(
                    latest,
                    and_(
                        PRICED_LEGS.c.account_id == latest.c.account_id,
                        PRICED_LEGS.c.service_day == latest.c.service_day,
                        PRICED_LEGS.c.version == latest.c.version,
                    ),
                )
            )
            for account_id, day, network_id, amount in rows:
                spend.setdefault((account_id, day), []).append(LegSpend(network_id, amount))
        return spend

    async def priced_days_of(
        self, account_id: str, *, before: date | None, limit: int
    ) -> list[date]:
        """The account's priced service days before `before` (None: all), newest first."""
        query = select(PricedDayRow.service_day).where(PricedDayRow.account_id == account_id)
        if before is not None:
            query = query.where(PricedDayRow.service_day < before)
        days = await self._session.scalars(
            query.group_by(PricedDayRow.service_day)
            .order_by(PricedDayRow.service_day.desc())
            .limit(limit)
        )
        return list(days)

    async def latest_legs_between(
        self, account_id: str, first_day: date, last_day: date
    ) -> list[PricedLegRow]:
        """The account's legs of each day's latest version in [first_day, last_day], in the
        order they were ridden."""
        latest = (
            select(PricedDayRow.service_day, func.max(PricedDayRow.version).label("version"))
            .where(
                PricedDayRow.account_id == account_id,
                PricedDayRow.service_day >= first_day,
                PricedDayRow.service_day <= last_day,
            )
            .group_by(PricedDayRow.service_day)
            .subquery()
        )
        rows = await self._session.scalars(
            select(PricedLegRow)
            .join(
                latest,
                and_(
                    PricedLegRow.account_id == account_id,
                    PricedLegRow.service_day == latest.c.service_day,
                    PricedLegRow.version == latest.c.version,
                ),
            )
            .order_by(PricedLegRow.started_at, PricedLegRow.leg_index)
        )
        return list(rows)

    async def priced_tap_count(self) -> int:
        """Taps used by the latest version of every recorded account-day."""
        latest = (
            select(
                PricedDayRow.account_id,
                PricedDayRow.service_day,
                func.max(PricedDayRow.version).label("version"),
            )
            .group_by(PricedDayRow.account_id, PricedDayRow.service_day)
            .subquery()
        )
        total = await self._session.scalar(
            select(func.coalesce(func.sum(PricedDayRow.tap_count), 0)).where(
                PricedDayRow.account_id == latest.c.account_id,
                PricedDayRow.service_day == latest.c.service_day,
                PricedDayRow.version == latest.c.version,
            )
        )
        return int(total or 0)
