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

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.dialect import bulk_insert, chunks
from ticketing.db.models import (
    PassRow,
    PricedDayRow,
    PricedLegRow,
    RiderAccountRow,
    table_of,
)
from ticketing.errors import TicketingError
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import HeldPass
from ticketing.fares.pricing import DayPrice, price_journeys
from ticketing.journeys import build_journeys, journeys_by_service_day
from ticketing.ledger import accounts
from ticketing.ledger.postings import Entry, Posting
from ticketing.ledger.rules import AccountState
from ticketing.money import Money
from ticketing.riders import PassStatus, PaymentMode, RiderAccount
from ticketing.service_day import service_day, service_day_start
from ticketing.services.clock import Clock, utc_now
from ticketing.services.ledger import Ledger
from ticketing.services.taps import TapStore
from ticketing.taps import Tap, TapKind

UNKNOWN_OPERATOR = "unknown"
PRICED_DAYS = table_of(PricedDayRow)
PRICED_LEGS = table_of(PricedLegRow)


class UnknownRider(TicketingError):
    """Taps name an account the backend has no record of."""


class DayAlreadyPriced(TicketingError):
    """A day handed in as new already has a recorded price that differs; re-price it with
    `FarePricing.price_day`, which reverses the recorded posting."""


class Payer(Protocol):
    """What deciding who pays needs to know of a rider (a `RiderAccount` or its stored row)."""

    @property
    def id(self) -> str: ...

    @property
    def payment_mode(self) -> PaymentMode: ...

    @property
    def overdraft_limit(self) -> int: ...


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


@dataclass(frozen=True, slots=True)
class PricedAccountDay:
    """An account-day the caller priced with the pure fare engine (e.g. `fares.price_day` on
    taps it holds), for `FarePricing.record_new_days`; `tap_count` is how many taps its
    journeys used."""

    rider: RiderAccount
    service_day: date
    price: DayPrice
    tap_count: int


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


def _wallet_headroom(rider: Payer, wallet: AccountState | None) -> int:
    """What a prepaid wallet can still pay; a wallet nothing was posted to yet has the rider's
    overdraft limit."""
    return rider.overdraft_limit if wallet is None else max(wallet.available, 0)


def _payers(rider: Payer, total: int, wallet_headroom: int) -> list[tuple[str, int]]:
    receivable = accounts.receivable(rider.id)
    if rider.payment_mode is PaymentMode.POSTPAID_CARD:
        return [(receivable, total)]
    from_wallet = min(total, wallet_headroom)
    return [(accounts.wallet(rider.id), from_wallet), (receivable, total - from_wallet)]


def _fare_posting(
    rider: Payer, day: date, version: int, price: DayPrice, wallet_headroom: int, now: datetime
) -> Posting:
    """The posting of a day's (non-zero) fares: payers debited, each leg's operator credited."""
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
        for code, amount in _payers(rider, price.total.amount, wallet_headroom)
        if amount
    ]
    return Posting(
        fare_posting_id(rider.id, day, version),
        (*debits, *credits),
        now,
        f"fares of {rider.id} on {day.isoformat()} (v{version})",
        {"account_id": rider.id, "service_day": day.isoformat(), "version": version},
    )


def _priced_rows(
    account_id: str,
    day: date,
    version: int,
    price: DayPrice,
    fingerprint: str,
    tap_count: int,
    posting: Posting | None,
    now: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `priced_days` row and `priced_legs` rows of one version."""
    day_row = {
        "account_id": account_id,
        "service_day": day,
        "version": version,
        "body_hash": fingerprint,
        "total_amount": price.total.amount,
        "currency": price.total.currency,
        "tap_count": tap_count,
        "priced_at": now,
        "posting_id": posting.id if posting else None,
    }
    leg_rows = [
        {
            "account_id": account_id,
            "service_day": day,
            "version": version,
            "leg_index": index,
            "journey_index": index,
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
        for index, leg in enumerate(price.legs)
    ]
    return day_row, leg_rows


class FarePricing:
    """Prices account-days inside the caller's transaction (it never commits)."""

    def __init__(
        self, session: AsyncSession, ledger: Ledger, feed: FareFeed, clock: Clock = utc_now
    ) -> None:
        self._session = session
        self._ledger = ledger
        self._feed = feed
        self._clock = clock
        self._taps = TapStore(session)
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
        fingerprint = price.fingerprint()
        last = await self._last_version(account_id, day)
        if last is not None and last.body_hash == fingerprint:
            return DayPricingResult(
                account_id, day, last.version, price.total, tap_count, False, ()
            )
        version = 1 if last is None else last.version + 1
        now = self._clock()
        posting_ids: list[str] = []
        if last is not None and last.posting_id is not None:
            previous = await self._ledger.get_posting(last.posting_id)
            reversal = previous.reversal(f"{last.posting_id}:reversal", occurred_at=now)
            await self._ledger.post_reversal(reversal, previous)
            posting_ids.append(reversal.id)
        posting = None
        if price.total.amount:
            headroom = await self._wallet_headroom(rider)
            posting = _fare_posting(rider, day, version, price, headroom, now)
            await self._ledger.post(posting)
            posting_ids.append(posting.id)
        day_row, leg_rows = _priced_rows(
            account_id, day, version, price, fingerprint, tap_count, posting, now
        )
        await self._insert_priced([day_row], leg_rows)
        return DayPricingResult(
            account_id, day, version, price.total, tap_count, True, tuple(posting_ids)
        )

    async def record_new_days(self, days: Sequence[PricedAccountDay]) -> list[DayPricingResult]:
        """Record and post many first pricings in a few bulk statements, results in input order.

        Each day is recorded as `price_day` would record a day with no earlier version, but
        with the caller's price: version 1, its legs, and its fare posting (all postings go to
        the ledger in one `post_many`). Prepaid wallets are read in one query and drawn down in
        input order, as calls of `price_day` one after another would. A day already recorded at
        the same price is left alone (a retry: `changed` is False); at another price it is
        refused with `DayAlreadyPriced` before anything is written.
        """
        recorded = await self._recorded_hashes({(d.rider.id, d.service_day) for d in days})
        headroom = await self._wallet_headrooms([d.rider for d in days])
        now = self._clock()
        results: list[DayPricingResult] = []
        postings: list[Posting] = []
        day_rows: list[dict[str, Any]] = []
        leg_rows: list[dict[str, Any]] = []
        for new in days:
            rider, day, price = new.rider, new.service_day, new.price
            fingerprint = price.fingerprint()
            last = recorded.get((rider.id, day))
            if last is not None:
                version, last_fingerprint = last
                if last_fingerprint != fingerprint:
                    raise DayAlreadyPriced(
                        f"{rider.id} on {day.isoformat()} is recorded at another price (v{version})"
                    )
                results.append(
                    DayPricingResult(rider.id, day, version, price.total, new.tap_count, False, ())
                )
                continue
            recorded[rider.id, day] = (1, fingerprint)
            posting = None
            if price.total.amount:
                posting = _fare_posting(rider, day, 1, price, headroom.get(rider.id, 0), now)
                postings.append(posting)
                if rider.id in headroom:
                    headroom[rider.id] = max(headroom[rider.id] - price.total.amount, 0)
            day_row, legs = _priced_rows(
                rider.id, day, 1, price, fingerprint, new.tap_count, posting, now
            )
            day_rows.append(day_row)
            leg_rows.extend(legs)
            results.append(
                DayPricingResult(
                    rider.id,
                    day,
                    1,
                    price.total,
                    new.tap_count,
                    True,
                    (posting.id,) if posting else (),
                )
            )
        await self._ledger.post_many(postings)
        await self._insert_priced(day_rows, leg_rows)
        return results

    async def _recorded_hashes(
        self, keys: set[tuple[str, date]]
    ) -> dict[tuple[str, date], tuple[int, str]]:
        """The latest recorded (version, fingerprint) of those account-days that have one."""
        days = sorted({day for _, day in keys})
        latest: dict[tuple[str, date], tuple[int, str]] = {}
        for chunk in chunks(sorted({account for account, _ in keys})):
            rows = await self._session.execute(
                select(
                    PRICED_DAYS.c.account_id,
                    PRICED_DAYS.c.service_day,
                    PRICED_DAYS.c.version,
                    PRICED_DAYS.c.body_hash,
                ).where(PRICED_DAYS.c.account_id.in_(chunk), PRICED_DAYS.c.service_day.in_(days))
            )
            for account_id, day, version, body_hash in rows:
                key = (account_id, day)
                if key in keys and version > latest.get(key, (0, ""))[0]:
                    latest[key] = (version, body_hash)
        return latest

    async def _wallet_headroom(self, rider: Payer) -> int:
        """One rider's wallet headroom; 0 for a postpaid rider, who has no wallet to draw."""
        return (await self._wallet_headrooms([rider])).get(rider.id, 0)

    async def _wallet_headrooms(self, riders: Iterable[Payer]) -> dict[str, int]:
        """Each prepaid rider's wallet headroom, read in one query per 5,000 wallets."""
        prepaid = {r.id: r for r in riders if r.payment_mode is PaymentMode.PREPAID_WALLET}
        if not prepaid:
            return {}
        wallets = await self._ledger.accounts(accounts.wallet(account) for account in prepaid)
        return {
            account: _wallet_headroom(rider, wallets.get(accounts.wallet(account)))
            for account, rider in prepaid.items()
        }

    async def _insert_priced(
        self, day_rows: list[dict[str, Any]], leg_rows: list[dict[str, Any]]
    ) -> None:
        await bulk_insert(self._session, PRICED_DAYS, day_rows)
        await bulk_insert(self._session, PRICED_LEGS, leg_rows)

    async def _taps_around(self, account_id: str, day: date) -> list[Tap]:
        """Every tap that can belong to a journey of this service day."""
        policy = self._feed.policy_for(None)
        start = service_day_start(day, timezone=policy.timezone, cutoff=policy.cutoff)
        end = start + timedelta(days=1)
        return await self._taps.for_account(
            account_id, start - self._max_journey, end + self._max_journey
        )

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
                if cap.network_id is None or cap.network_id == leg.network_id:
                    spent[cap.cap_id] += leg.amount
        return {cap_id: Money(amount, self._feed.currency) for cap_id, amount in spent.items()}

    async def _last_version(self, account_id: str, day: date) -> PricedDayRow | None:
        return await self._session.scalar(
            select(PricedDayRow)
            .where(PricedDayRow.account_id == account_id, PricedDayRow.service_day == day)
            .order_by(PricedDayRow.version.desc())
            .limit(1)
        )
