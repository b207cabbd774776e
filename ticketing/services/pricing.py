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
from datetime import date, timedelta

from ticketing.clock import Clock
from ticketing.errors import DayAlreadyPriced, UnknownRider
from ticketing.fares.feed import FareFeed
from ticketing.fares.journeys import build_journeys, journeys_by_service_day
from ticketing.fares.passes import HeldPass
from ticketing.fares.pricing import DayPrice, price_journeys
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.ledger.rules import AccountState
from ticketing.money import Money
from ticketing.postings import Payer, fare, fare_reversal
from ticketing.riders import PassStatus, PaymentMode, RiderAccount
from ticketing.service_day import service_day, service_day_start
from ticketing.stores.pricing import NewPricedDay, PricedDayVersion
from ticketing.taps import Tap, TapKind, TapRecord
from ticketing.unit_of_work import UnitOfWork


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


def account_days(feed: FareFeed, taps: Iterable[TapRecord]) -> set[tuple[str, date]]:
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


class FarePricing:
    """Prices account-days inside the caller's unit of work (it never commits); the time it
    records is `clock`'s, by default the unit of work's."""

    def __init__(self, uow: UnitOfWork, feed: FareFeed, clock: Clock | None = None) -> None:
        self._uow = uow
        self._feed = feed
        self._clock = clock or uow.clock
        self._max_journey = timedelta(
            seconds=max(
                (feed.max_journey_seconds(route) for route in feed.gtfs.routes), default=4 * 3600
            )
        )

    async def price_days(self, keys: Iterable[tuple[str, date]]) -> list[DayPricingResult]:
        return [await self.price_day(account, day) for account, day in sorted(keys)]

    async def price_day(self, account_id: str, day: date) -> DayPricingResult:
        uow = self._uow
        rider = await uow.riders.find_account(account_id)
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
        last = await uow.pricing.latest(account_id, day)
        if last is not None and last.fingerprint == fingerprint:
            return DayPricingResult(
                account_id, day, last.version, price.total, tap_count, False, ()
            )
        version = 1 if last is None else last.version + 1
        now = self._clock()
        posting_ids: list[str] = []
        if last is not None and last.posting_id is not None:
            previous = await uow.ledger.get_posting(last.posting_id)
            reversal = fare_reversal(previous, now)
            await uow.ledger.post_reversal(reversal, previous)
            posting_ids.append(reversal.id)
        posting = None
        if price.total.amount:
            headroom = await self._wallet_headroom(rider)
            posting = fare(rider, day, version, price, headroom, now)
            await uow.ledger.post(posting)
            posting_ids.append(posting.id)
        recorded = PricedDayVersion(
            account_id, day, version, fingerprint, posting.id if posting else None
        )
        await uow.pricing.record([NewPricedDay(recorded, price, tap_count, now)])
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
        uow = self._uow
        recorded = await uow.pricing.latest_of({(d.rider.id, d.service_day) for d in days})
        headroom = await self._wallet_headrooms([d.rider for d in days])
        now = self._clock()
        results: list[DayPricingResult] = []
        postings: list[Posting] = []
        new_days: list[NewPricedDay] = []
        for new in days:
            rider, day, price = new.rider, new.service_day, new.price
            fingerprint = price.fingerprint()
            last = recorded.get((rider.id, day))
            if last is not None:
                if last.fingerprint != fingerprint:
                    raise DayAlreadyPriced(
                        f"{rider.id} on {day.isoformat()} is recorded at another price "
                        f"(v{last.version})"
                    )
                results.append(
                    DayPricingResult(
                        rider.id, day, last.version, price.total, new.tap_count, False, ()
                    )
                )
                continue
            posting = None
            if price.total.amount:
                posting = fare(rider, day, 1, price, headroom.get(rider.id, 0), now)
                postings.append(posting)
                if rider.id in headroom:
                    headroom[rider.id] = max(headroom[rider.id] - price.total.amount, 0)
            version = PricedDayVersion(
                rider.id, day, 1, fingerprint, posting.id if posting else None
            )
            recorded[rider.id, day] = version
            new_days.append(NewPricedDay(version, price, new.tap_count, now))
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
        await uow.ledger.post_many(postings)
        await uow.pricing.record(new_days)
        return results

    async def _wallet_headroom(self, rider: Payer) -> int:
        """One rider's wallet headroom; 0 for a postpaid rider, who has no wallet to draw."""
        return (await self._wallet_headrooms([rider])).get(rider.id, 0)

    async def _wallet_headrooms(self, riders: Iterable[Payer]) -> dict[str, int]:
        """Each prepaid rider's wallet headroom, read in one query per 5,000 wallets."""
        prepaid = {r.id: r for r in riders if r.payment_mode is PaymentMode.PREPAID_WALLET}
        if not prepaid:
            return {}
        wallets = await self._uow.ledger.accounts(accounts.wallet(account) for account in prepaid)
        return {
            account: _wallet_headroom(rider, wallets.get(accounts.wallet(account)))
            for account, rider in prepaid.items()
        }

    async def _taps_around(self, account_id: str, day: date) -> list[Tap]:
        """Every tap that can belong to a journey of this service day."""
        policy = self._feed.policy_for(None)
        start = service_day_start(day, timezone=policy.timezone, cutoff=policy.cutoff)
        end = start + timedelta(days=1)
        return await self._uow.taps.for_account(
            account_id, start - self._max_journey, end + self._max_journey
        )

    async def _passes(self, account_id: str) -> list[HeldPass]:
        return [
            HeldPass(p.fare_product_id, p.valid_from, p.valid_until)
            for p in await self._uow.riders.passes_for(account_id)
            if p.status is PassStatus.ACTIVE
        ]

    async def _month_to_date(self, account_id: str, day: date) -> dict[str, Money]:
        """What earlier days of the month counted towards each month cap (latest versions)."""
        month_caps = [cap for cap in self._feed.caps if cap.period == "month"]
        if not month_caps or day.day == 1:
            return {}
        spent: dict[str, int] = defaultdict(int)
        for leg in await self._uow.pricing.month_spend(account_id, day):
            for cap in month_caps:
                if cap.network_id is None or cap.network_id == leg.network_id:
                    spent[cap.cap_id] += leg.amount
        return {cap_id: Money(amount, self._feed.currency) for cap_id, amount in spent.items()}
