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
from ticketing.gtfs.records import Cap
from ticketing.ledger import accounts
from ticketing.ledger.errors import UnknownPosting
from ticketing.ledger.postings import Posting, net_by_account
from ticketing.ledger.rules import AccountState
from ticketing.money import Money
from ticketing.postings import Payer, fare, fare_reversal
from ticketing.riders import PassStatus, PaymentMode, RiderAccount
from ticketing.service_day import service_day, service_day_start
from ticketing.stores.pricing import LegSpend, NewPricedDay, PricedDayVersion
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
        """Price account-days in key order, with the result of `price_day` one day after
        another, but reading what they need and writing what they record in a few bulk
        statements for all of them: a statement's fixed cost, not its rows, is what a worker's
        cycle of 100 days spent (about 15 statements a day before). Each day sees what the
        days before it in the batch changed: its month-to-date spend, its wallet's headroom."""
        ordered = sorted(set(keys))
        if not ordered:
            return []
        uow = self._uow
        account_ids = sorted({account for account, _ in ordered})
        riders = await uow.riders.find_accounts(account_ids)
        for account_id in account_ids:
            if account_id not in riders:
                raise UnknownRider(f"taps for unknown account {account_id!r}")
        taps = await self._taps_around(ordered)
        passes = await self._passes(account_ids)
        spend = await self._month_spend(ordered)
        latest = await uow.pricing.latest_of(ordered)
        previous = await uow.ledger.find_postings(
            v.posting_id for v in latest.values() if v.posting_id is not None
        )
        wallets = _Wallets(await self._wallet_states(riders.values()))
        now = self._clock()
        results: list[DayPricingResult] = []
        postings: list[Posting] = []
        new_days: list[NewPricedDay] = []
        for account_id, day in ordered:
            rider = riders[account_id]
            journeys = journeys_by_service_day(
                build_journeys(taps.get((account_id, day), []), self._feed), self._feed
            ).get(day, [])
            price = price_journeys(
                self._feed,
                journeys,
                rider_category=rider.rider_category,
                passes=passes.get(account_id, []),
                month_to_date=self._month_to_date(spend, account_id, day),
            )
            tap_count = sum(len(journey.tap_keys) for journey in journeys)
            fingerprint = price.fingerprint()
            last = latest.get((account_id, day))
            if last is not None and last.fingerprint == fingerprint:
                results.append(
                    DayPricingResult(
                        account_id, day, last.version, price.total, tap_count, False, ()
                    )
                )
                continue
            version = 1 if last is None else last.version + 1
            posting_ids: list[str] = []
            if last is not None and last.posting_id is not None:
                original = previous.get(last.posting_id)
                if original is None:
                    raise UnknownPosting(f"no posting {last.posting_id!r}")
                reversal = fare_reversal(original, now)
                wallets.post(reversal)
                postings.append(reversal)
                posting_ids.append(reversal.id)
            posting = None
            if price.total.amount:
                posting = fare(rider, day, version, price, wallets.headroom(rider), now)
                wallets.post(posting)
                postings.append(posting)
                posting_ids.append(posting.id)
            recorded = PricedDayVersion(
                account_id, day, version, fingerprint, posting.id if posting else None
            )
            new_days.append(NewPricedDay(recorded, price, tap_count, now))
            spend[account_id, day] = [
                LegSpend(leg.network_id, leg.charged.amount) for leg in price.legs
            ]
            results.append(
                DayPricingResult(
                    account_id, day, version, price.total, tap_count, True, tuple(posting_ids)
                )
            )
        await uow.ledger.post_many(postings, originals=previous.values())
        await uow.pricing.record(new_days)
        return results

    async def price_day(self, account_id: str, day: date) -> DayPricingResult:
        """Price one account-day (see the module docstring); `price_days` of one key."""
        return (await self.price_days([(account_id, day)]))[0]

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

    async def _wallet_headrooms(self, riders: Iterable[Payer]) -> dict[str, int]:
        """Each prepaid rider's wallet headroom, read in one query per 5,000 wallets."""
        wallets = _Wallets(await self._wallet_states(riders))
        return {account: wallets.headroom(rider) for account, rider in wallets.riders.items()}

    async def _wallet_states(
        self, riders: Iterable[Payer]
    ) -> dict[str, tuple[Payer, AccountState | None]]:
        """Each prepaid rider's wallet as stored, by account id (None: nothing posted yet)."""
        prepaid = {r.id: r for r in riders if r.payment_mode is PaymentMode.PREPAID_WALLET}
        if not prepaid:
            return {}
        stored = await self._uow.ledger.accounts(accounts.wallet(account) for account in prepaid)
        return {
            account: (rider, stored.get(accounts.wallet(account)))
            for account, rider in prepaid.items()
        }

    async def _taps_around(
        self, keys: Sequence[tuple[str, date]]
    ) -> dict[tuple[str, date], list[Tap]]:
        """Every tap that can belong to a journey of each account-day: one query per service
        day among the keys (a batch has one or two)."""
        policy = self._feed.policy_for(None)
        by_day: dict[date, list[str]] = defaultdict(list)
        for account_id, day in keys:
            by_day[day].append(account_id)
        found: dict[tuple[str, date], list[Tap]] = {}
        for day, account_ids in sorted(by_day.items()):
            start = service_day_start(day, timezone=policy.timezone, cutoff=policy.cutoff)
            end = start + timedelta(days=1)
            taps = await self._uow.taps.for_accounts(
                account_ids, start - self._max_journey, end + self._max_journey
            )
            found.update(
                ((account_id, day), account_taps) for account_id, account_taps in taps.items()
            )
        return found

    async def _passes(self, account_ids: Sequence[str]) -> dict[str, list[HeldPass]]:
        """Each account's active passes."""
        return {
            account_id: [
                HeldPass(p.fare_product_id, p.valid_from, p.valid_until)
                for p in held
                if p.status is PassStatus.ACTIVE
            ]
            for account_id, held in (await self._uow.riders.passes_of(account_ids)).items()
        }

    def _month_caps(self) -> list[Cap]:
        return [cap for cap in self._feed.caps if cap.period == "month"]

    async def _month_spend(
        self, keys: Sequence[tuple[str, date]]
    ) -> dict[tuple[str, date], list[LegSpend]]:
        """What the recorded days of the keys' months before them counted towards caps, by
        account-day (latest versions), in one query; nothing when no cap is monthly."""
        wanted = [(account_id, day) for account_id, day in keys if day.day != 1]
        if not self._month_caps() or not wanted:
            return {}
        return await self._uow.pricing.spend_by_day(
            {account_id for account_id, _ in wanted},
            min(day.replace(day=1) for _, day in wanted),
            max(day for _, day in wanted),
        )

    def _month_to_date(
        self, spend: dict[tuple[str, date], list[LegSpend]], account_id: str, day: date
    ) -> dict[str, Money]:
        """What earlier days of the month counted towards each month cap, from `spend`."""
        month_caps = self._month_caps()
        if not month_caps or day.day == 1:
            return {}
        spent: dict[str, int] = defaultdict(int)
        earlier = day.replace(day=1)
        while earlier < day:
            for leg in spend.get((account_id, earlier), ()):
                for cap in month_caps:
                    if cap.network_id is None or cap.network_id == leg.network_id:
                        spent[cap.cap_id] += leg.amount
            earlier += timedelta(days=1)
        return {cap_id: Money(amount, self._feed.currency) for cap_id, amount in spent.items()}


class _Wallets:
    """Prepaid wallets as a batch of postings leaves them, one posting after another, for the
    headroom each next fare may draw (what `Ledger.post` would have left stored)."""

    def __init__(self, stored: dict[str, tuple[Payer, AccountState | None]]) -> None:
        self.riders = {account: rider for account, (rider, _) in stored.items()}
        self._states = {accounts.wallet(a): state for a, (_, state) in stored.items()}

    def headroom(self, rider: Payer) -> int:
        """What the rider's wallet can still pay; 0 for a rider without a wallet (postpaid)."""
        code = accounts.wallet(rider.id)
        if code not in self._states:
            return 0
        return _wallet_headroom(rider, self._states[code])

    def post(self, posting: Posting) -> None:
        """Apply a posting to the wallets it moves (a wallet posted to the first time is opened
        with no overdraft allowance, as the ledger opens it)."""
        for code, change in net_by_account([posting]).items():
            if code in self._states:
                state = self._states[code] or AccountState.new(code, change.currency)
                self._states[code] = state.apply(change)
