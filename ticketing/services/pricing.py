"""Prices stored taps per account and service day, records the result and posts it to the ledger.

Pricing a day is the pure fare engine applied to every tap of that account that can belong to
the day. The result is stored as a new version of the day only when it differs from the last
one; the ledger then gets a reversal of the previous version's posting and the new version's
posting, so a late tap-out corrects an incomplete journey without updating anything.

Who pays: a postpaid account's fares go to its receivable (charged once a day through the
gateway); a prepaid account's fares come out of its wallet, and whatever the wallet cannot
cover (balance plus overdraft allowance) goes to its receivable as debt, because the ride has
already happened and must still be paid to the operator.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models import PassRow, PricedDayRow, PricedLegRow, RiderAccountRow, TapRow
from ticketing.errors import TicketingError
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import HeldPass
from ticketing.fares.pricing import DayPrice, price_journeys
from ticketing.journeys import build_journeys, journeys_by_service_day
from ticketing.ledger import accounts
from ticketing.ledger.errors import UnknownAccount
from ticketing.ledger.postings import Entry, Posting
from ticketing.money import Money
from ticketing.riders import PassStatus, PaymentMode
from ticketing.service_day import service_day, service_day_start
from ticketing.services.clock import Clock, utc_now
from ticketing.services.ledger import Ledger
from ticketing.taps import Tap, TapKind

UNKNOWN_OPERATOR = "unknown"


class UnknownRider(TicketingError):
    """Taps name an account the backend has no record of."""


@dataclass(frozen=True, slots=True)
class DayPricingResult:
    """What pricing one account-day did. `changed` is False when the taps priced as before."""

    account_id: str
    service_day: date
    version: int
    total: Money
    tap_count: int
    changed: bool
    posting_ids: tuple[str, ...]


def fare_posting_id(account_id: str, day: date, version: int) -> str:
    return f"fare:{account_id}:{day.isoformat()}:v{version}"


def account_days(feed: FareFeed, taps: Iterable[Tap]) -> set[tuple[str, date]]:
    """The account-days some taps can change (a tap may close a journey begun the day before)."""
    policy = feed.policy_for(None)
    days: set[tuple[str, date]] = set()
    for tap in taps:
        day = service_day(tap.at, timezone=policy.timezone, cutoff=policy.cutoff)
        days.add((tap.account_id, day))
        if tap.kind in (TapKind.EXIT, TapKind.ALIGHT):
            earlier = service_day(
                tap.at - timedelta(seconds=feed.max_journey_seconds(tap.route_id)),
                timezone=policy.timezone,
                cutoff=policy.cutoff,
            )
            days.add((tap.account_id, earlier))
    return days


def _body_hash(price: DayPrice) -> str:
    text = json.dumps(price.as_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _tap(row: TapRow) -> Tap:
    return Tap(
        row.device_id,
        row.device_seq,
        row.credential_id,
        row.account_id,
        row.at,
        row.route_id,
        row.stop_id,
        row.kind,
    )


class FarePricing:
    """Prices account-days inside the caller's transaction (it never commits)."""

    def __init__(
        self, session: AsyncSession, ledger: Ledger, feed: FareFeed, clock: Clock = utc_now
    ) -> None:
        self._session = session
        self._ledger = ledger
        self._feed = feed
        self._clock = clock
        self._max_journey = timedelta(
            seconds=max(
                (feed.max_journey_seconds(route) for route in feed.gtfs.routes), default=4 * 3600
            )
        )

    async def price_days(self, keys: Iterable[tuple[str, date]]) -> list[DayPricingResult]:
        return [await self.price_day(account, day) for account, day in sorted(keys)]

    async def price_day(self, account_id: str, day: date) -> DayPricingResult:
        rider = await self._session.get(RiderAccountRow, account_id)
        if rider is None:
            raise UnknownRider(f"taps for unknown account {account_id!r}")
        taps = await self._taps_around(account_id, day)
        journeys = journeys_by_service_day(build_journeys(taps, self._feed), self._feed).get(
            day, []
        )
        price = price_journeys(
            self._feed,
            journeys,
            rider_category=rider.rider_category,
            passes=await self._passes(account_id),
            month_to_date=await self._month_to_date(account_id, day),
        )
        tap_count = sum(len(journey.tap_keys) for journey in journeys)
        body_hash = _body_hash(price)
        last = await self._last_version(account_id, day)
        if last is not None and last.body_hash == body_hash:
            return DayPricingResult(
                account_id, day, last.version, price.total, tap_count, False, ()
            )
        version = 1 if last is None else last.version + 1
        now = self._clock()
        posting_ids: list[str] = []
        if last is not None and last.posting_id is not None:
            previous = await self._ledger.get_posting(last.posting_id)
            reversal = previous.reversal(f"{last.posting_id}:reversal", occurred_at=now)
            await self._ledger.post(reversal)
            posting_ids.append(reversal.id)
        posting = await self._fare_posting(rider, day, version, price, now)
        if posting is not None:
            await self._ledger.post(posting)
            posting_ids.append(posting.id)
        self._record(account_id, day, version, price, tap_count, body_hash, posting, now)
        await self._session.flush()
        return DayPricingResult(
            account_id, day, version, price.total, tap_count, True, tuple(posting_ids)
        )

    async def _taps_around(self, account_id: str, day: date) -> list[Tap]:
        """Every tap that can belong to a journey of this service day."""
        policy = self._feed.policy_for(None)
        start = service_day_start(day, timezone=policy.timezone, cutoff=policy.cutoff)
        end = start + timedelta(days=1)
        rows = await self._session.scalars(
            select(TapRow).where(
                TapRow.account_id == account_id,
                TapRow.at >= start - self._max_journey,
                TapRow.at < end + self._max_journey,
            )
        )
        return [_tap(row) for row in rows]

    async def _passes(self, account_id: str) -> list[HeldPass]:
        rows = await self._session.scalars(
            select(PassRow).where(
                PassRow.account_id == account_id, PassRow.status == PassStatus.ACTIVE
            )
        )
        return [HeldPass(r.fare_product_id, r.valid_from, r.valid_until) for r in rows]

    async def _month_to_date(self, account_id: str, day: date) -> dict[str, Money]:
        """What earlier days of the month counted towards each month cap (latest versions)."""
        month_caps = [cap for cap in self._feed.caps if cap.period == "month"]
        if not month_caps or day.day == 1:
            return {}
        latest = (
            select(PricedDayRow.service_day, func.max(PricedDayRow.version).label("version"))
            .where(
                PricedDayRow.account_id == account_id,
                PricedDayRow.service_day >= day.replace(day=1),
                PricedDayRow.service_day < day,
            )
            .group_by(PricedDayRow.service_day)
            .subquery()
        )
        legs = await self._session.scalars(
            select(PricedLegRow).join(
                latest,
                and_(
                    PricedLegRow.account_id == account_id,
                    PricedLegRow.service_day == latest.c.service_day,
                    PricedLegRow.version == latest.c.version,
                ),
            )
        )
        spent: dict[str, int] = defaultdict(int)
        for leg in legs:
            for cap in month_caps:
                if cap.network_id is None or cap.network_id == leg.details.get("network_id"):
                    spent[cap.cap_id] += leg.amount
        return {cap_id: Money(amount, self._feed.currency) for cap_id, amount in spent.items()}

    async def _last_version(self, account_id: str, day: date) -> PricedDayRow | None:
        return await self._session.scalar(
            select(PricedDayRow)
            .where(PricedDayRow.account_id == account_id, PricedDayRow.service_day == day)
            .order_by(PricedDayRow.version.desc())
            .limit(1)
        )

    async def _fare_posting(
        self, rider: RiderAccountRow, day: date, version: int, price: DayPrice, now: datetime
    ) -> Posting | None:
        if price.total.amount == 0:
            return None
        by_operator: dict[str, int] = defaultdict(int)
        for leg in price.legs:
            if leg.charged.amount:
                by_operator[leg.agency_id or UNKNOWN_OPERATOR] += leg.charged.amount
        currency = price.total.currency
        credits = [
            Entry.credit(accounts.operator(op), Money(amount, currency))
            for op, amount in sorted(by_operator.items())
        ]
        debits = [
            Entry.debit(code, Money(amount, currency))
            for code, amount in await self._payers(rider, price.total.amount)
            if amount
        ]
        return Posting(
            fare_posting_id(rider.id, day, version),
            (*debits, *credits),
            now,
            f"fares of {rider.id} on {day.isoformat()} (v{version})",
            {"account_id": rider.id, "service_day": day.isoformat(), "version": version},
        )

    async def _payers(self, rider: RiderAccountRow, total: int) -> Sequence[tuple[str, int]]:
        receivable = accounts.receivable(rider.id)
        if rider.payment_mode is PaymentMode.POSTPAID_CARD:
            return [(receivable, total)]
        wallet = accounts.wallet(rider.id)
        try:
            available = max((await self._ledger.account(wallet)).available, 0)
        except UnknownAccount:
            available = rider.overdraft_limit
        from_wallet = min(total, available)
        return [(wallet, from_wallet), (receivable, total - from_wallet)]

    def _record(
        self,
        account_id: str,
        day: date,
        version: int,
        price: DayPrice,
        tap_count: int,
        body_hash: str,
        posting: Posting | None,
        now: datetime,
    ) -> None:
        self._session.add(
            PricedDayRow(
                account_id=account_id,
                service_day=day,
                version=version,
                body_hash=body_hash,
                total_amount=price.total.amount,
                currency=price.total.currency,
                tap_count=tap_count,
                priced_at=now,
                posting_id=posting.id if posting else None,
            )
        )
        self._session.add_all(
            PricedLegRow(
                account_id=account_id,
                service_day=day,
                version=version,
                leg_index=index,
                journey_index=index,
                operator_id=leg.agency_id or UNKNOWN_OPERATOR,
                route_id=leg.route_id,
                from_stop_id=leg.from_stop_id or "",
                to_stop_id=leg.to_stop_id,
                started_at=leg.departure,
                ended_at=leg.arrival,
                fare_product_id=leg.fare_product_id,
                amount=leg.charged.amount,
                undiscounted_amount=leg.undiscounted.amount,
                currency=leg.charged.currency,
                details=leg.as_json(),
            )
            for index, leg in enumerate(price.legs)
        )
