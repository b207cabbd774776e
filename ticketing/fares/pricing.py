"""Pricing an account's day: journeys -> effective legs -> fares -> passes -> transfers -> caps.

`price_day` is a pure function of the taps (plus the rider's category, passes held and the month's
prior spend): journeys are rebuilt from the canonical order of the taps, so taps arriving late or
in any order give the same DayPrice, and a late tap-out simply re-prices its journey.

Order of operations, each on the previous step's result:
1. Consecutive legs matching fare_leg_join_rules become one effective leg, priced once (charged on
   its first leg; the others show the same product at 0).
2. Each effective leg is priced with fare_leg_rules (or Fares v1); an incomplete journey at the
   maximum fare for its unknown end (faregate_policy.txt `max_fare`). A leg no fare covers (an
   unknown route or stop, no matching rule) is kept, charged 0 and carries the reason in
   `unpriced_reason` (listed in `DayPrice.unpriced_legs`): the day is never refused for it.
3. A leg covered by a valid held pass is charged 0 and takes no part in transfers.
4. Fares v2: fare_transfer_rules adjust the charge of legs that continue a sub-journey.
   Fares v1: the cheapest cover of the legs by fares, each fare covering a run of consecutive
   legs its rules, transfers and transfer_duration allow (ticketing.fares.covers).
5. Caps (faregate_caps.txt), in departure order: a leg is charged at most what is left under every
   cap that covers it (day caps per service day, month caps per calendar month of service days
   starting from `month_to_date`), so a period's total never exceeds its cap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ticketing.fares.covers import CoverLeg, cheapest_cover
from ticketing.fares.errors import FareError
from ticketing.fares.feed import FareFeed
from ticketing.fares.journeys import Journey, build_journeys
from ticketing.fares.matching import LegFare
from ticketing.fares.passes import HeldPass, covering_pass
from ticketing.fares.transfers import LegTiming, Transfer, find_transfer, within_duration
from ticketing.gtfs.records import CapPeriod
from ticketing.money import Money
from ticketing.service_day import service_month
from ticketing.taps import Tap


@dataclass(frozen=True, slots=True)
class QuoteLeg:
    """A leg given by its stops and times rather than taps (the `fares quote` CLI)."""

    route_id: str
    from_stop_id: str
    to_stop_id: str
    departure: datetime
    arrival: datetime | None = None


@dataclass(frozen=True, slots=True)
class PricedLeg:
    """One journey's fare. `undiscounted` is its stand-alone fare (the basis for apportioning
    revenue to `agency_id`), `charged` what the rider pays for it after passes, transfers, caps."""

    journey_id: str
    route_id: str
    network_id: str | None
    agency_id: str | None
    from_stop_id: str | None
    to_stop_id: str | None
    departure: datetime
    arrival: datetime | None
    service_day: date
    fare_product_id: str | None
    undiscounted: Money
    charged: Money
    incomplete: bool
    pass_covered: bool
    capped: bool
    pass_product_id: str | None = None
    transfer_product_id: str | None = None
    joined: bool = False
    unpriced_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "route_id": self.route_id,
            "network_id": self.network_id,
            "agency_id": self.agency_id,
            "from_stop_id": self.from_stop_id,
            "to_stop_id": self.to_stop_id,
            "departure": self.departure.isoformat(),
            "arrival": self.arrival.isoformat() if self.arrival else None,
            "service_day": self.service_day.isoformat(),
            "fare_product_id": self.fare_product_id,
            "amount": self.charged.amount,
            "undiscounted_amount": self.undiscounted.amount,
            "currency": self.charged.currency,
            "incomplete": self.incomplete,
            "pass_covered": self.pass_covered,
            "pass_product_id": self.pass_product_id,
            "transfer_product_id": self.transfer_product_id,
            "joined": self.joined,
            "capped": self.capped,
            "unpriced_reason": self.unpriced_reason,
        }


@dataclass(frozen=True, slots=True)
class AppliedCap:
    """A cap that reduced the day's fares: which, for which period, and by how much."""

    cap_id: str
    period: CapPeriod
    period_start: date
    limit: Money
    saved: Money

    def as_json(self) -> dict[str, Any]:
        return {
            "cap_id": self.cap_id,
            "period": self.period.value,
            "period_start": self.period_start.isoformat(),
            "limit": self.limit.amount,
            "saved": self.saved.amount,
            "currency": self.limit.currency,
        }


@dataclass(frozen=True, slots=True)
class UnpricedLeg:
    """A leg of the day no fare covers: its position in `DayPrice.legs`, its journey and why."""

    index: int
    journey_id: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "journey_id": self.journey_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class DayPrice:
    """The priced journeys of one account-day. `cap_spend` is what the day counted towards each
    cap; add a month cap's entry to the next day's `month_to_date`. Legs no fare covers are in
    `legs` at 0 with their `unpriced_reason` (see `unpriced_legs`): settlement's exceptions."""

    total: Money
    legs: tuple[PricedLeg, ...]
    caps_applied: tuple[AppliedCap, ...]
    cap_spend: Mapping[str, Money]

    @property
    def unpriced_legs(self) -> tuple[UnpricedLeg, ...]:
        return tuple(
            UnpricedLeg(index, leg.journey_id, leg.unpriced_reason)
            for index, leg in enumerate(self.legs)
            if leg.unpriced_reason is not None
        )

    @property
    def priced_any(self) -> bool:
        """Whether at least one leg was priced (a day of only unpriced legs prices nothing)."""
        return any(leg.unpriced_reason is None for leg in self.legs)

    def fingerprint(self) -> str:
        """SHA-256 of everything this price says, in a fixed order of plain values.

        Equal prices give equal fingerprints whatever time zone their datetimes carry (instants
        enter as POSIX timestamps), so a day priced from local-time taps matches the same day
        priced from stored UTC taps. Recording compares fingerprints to tell a changed day from
        a retry; `repr` of ints, floats, strings, bools and None is stable across CPython
        versions, and the leading tag names the scheme should it ever change.
        """
        legs = tuple(
            (
                leg.journey_id,
                leg.route_id,
                leg.network_id,
                leg.agency_id,
                leg.from_stop_id,
                leg.to_stop_id,
                leg.departure.timestamp(),
                None if leg.arrival is None else leg.arrival.timestamp(),
                leg.service_day.toordinal(),
                leg.fare_product_id,
                leg.charged.amount,
                leg.undiscounted.amount,
                leg.charged.currency,
                leg.incomplete,
                leg.pass_covered,
                leg.capped,
                leg.pass_product_id,
                leg.transfer_product_id,
                leg.joined,
            )
            for leg in self.legs
        )
        caps = tuple(
            (
                cap.cap_id,
                cap.period.value,
                cap.period_start.toordinal(),
                cap.limit.amount,
                cap.saved.amount,
                cap.limit.currency,
            )
            for cap in self.caps_applied
        )
        spend = tuple(
            (cap_id, money.amount, money.currency)
            for cap_id, money in sorted(self.cap_spend.items())
        )
        body: tuple[Any, ...] = (
            "day-price/2",
            self.total.amount,
            self.total.currency,
            legs,
            caps,
            spend,
        )
        unpriced = tuple((u.index, u.reason) for u in self.unpriced_legs)
        if unpriced:
            # Only days with unpriced legs carry them, so every fingerprint recorded before
            # unpriced legs existed stays the same.
            body = (*body, unpriced)
        return hashlib.sha256(repr(body).encode()).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {
            "total": {"amount": self.total.amount, "currency": self.total.currency},
            "legs": [leg.as_json() for leg in self.legs],
            "caps_applied": [cap.as_json() for cap in self.caps_applied],
            "cap_spend": {cap_id: spend.amount for cap_id, spend in sorted(self.cap_spend.items())},
            "unpriced_legs": [leg.as_json() for leg in self.unpriced_legs],
        }


def price_day(
    feed: FareFeed,
    taps: Sequence[Tap],
    *,
    rider_category: str | None = None,
    passes: Sequence[HeldPass] = (),
    month_to_date: Mapping[str, Money] | None = None,
    fare_media_id: str | None = None,
) -> DayPrice:
    """Price one account's taps (normally one service day's, see journeys_by_service_day)."""
    accounts = {tap.account_id for tap in taps}
    if len(accounts) > 1:
        raise FareError(f"price_day prices one account's taps, got {len(accounts)} accounts")
    return price_journeys(
        feed,
        build_journeys(taps, feed),
        rider_category=rider_category,
        passes=passes,
        month_to_date=month_to_date,
        fare_media_id=fare_media_id,
    )


def quote(
    feed: FareFeed,
    legs: Sequence[QuoteLeg],
    *,
    rider_category: str | None = None,
    passes: Sequence[HeldPass] = (),
    month_to_date: Mapping[str, Money] | None = None,
    fare_media_id: str | None = None,
) -> DayPrice:
    """Price legs given as stop pairs, as one rider's day; the leg at position i (from 0) of
    `legs` is journey `quote_journey_id(i)`. A leg naming a stop or route the feed does not
    know is kept unpriced, like any leg no fare covers."""
    for leg in legs:
        if leg.departure.tzinfo is None:
            raise FareError(f"departure {leg.departure.isoformat()} has no UTC offset")
        if leg.arrival is not None and leg.arrival < leg.departure:
            raise FareError(f"arrival {leg.arrival.isoformat()} is before the departure")
    journeys = [
        Journey(
            quote_journey_id(position),
            "quote",
            leg.route_id,
            leg.from_stop_id,
            leg.to_stop_id,
            leg.departure,
            leg.arrival,
            False,
            (),
        )
        for position, leg in enumerate(legs)
    ]
    return price_journeys(
        feed,
        journeys,
        rider_category=rider_category,
        passes=passes,
        month_to_date=month_to_date,
        fare_media_id=fare_media_id,
        require_known_stops=True,
    )


def quote_journey_id(position: int) -> str:
    """The journey id `quote` gives the leg at `position` (from 0): q1, q2, ..."""
    return f"q{position + 1}"


@dataclass(slots=True)
class _Work:
    """A journey being priced (mutable scratch space, never returned)."""

    journey: Journey
    network_id: str | None
    day: date
    fare: LegFare | None
    incomplete: bool
    undiscounted: int
    charge: int
    arrival: datetime | None
    joined: bool = False
    continuation: bool = False
    pass_product_id: str | None = None
    transfer_product_id: str | None = None
    capped: bool = False
    unpriced_reason: str | None = None
    # Known route and stops, but no fare alone: a Fares v1 run may still cover it.
    coverable: bool = False


def price_journeys(
    feed: FareFeed,
    journeys: Sequence[Journey],
    *,
    rider_category: str | None = None,
    passes: Sequence[HeldPass] = (),
    month_to_date: Mapping[str, Money] | None = None,
    fare_media_id: str | None = None,
    require_known_stops: bool = False,
) -> DayPrice:
    """Price one rider's journeys (the core of price_day and quote). With
    `require_known_stops`, a leg at a stop the feed does not list is unpriced; otherwise such
    a stop is simply in no zone or area (a validator's stop list may run ahead of the feed)."""
    category = feed.resolve_category(rider_category)
    fare_media_id = feed.resolve_media(fare_media_id)
    ordered = sorted(journeys, key=lambda j: (j.departure, j.journey_id))
    work = _price_legs(feed, ordered, category, fare_media_id, require_known_stops)
    held = tuple(sorted(passes, key=lambda p: (p.fare_product_id, p.valid_from)))
    if held:
        for item in work:
            if item.fare is None:
                continue
            item.pass_product_id = covering_pass(
                feed, held, item.journey.route_id, item.network_id, category, item.journey.departure
            )
            if item.pass_product_id is not None:
                item.charge = 0
    if feed.transfer_rules:
        _apply_transfers(feed, work, category, fare_media_id)
    if feed.v1_transfers:
        _apply_v1_covers(feed, work)
    caps_applied, cap_spend = _apply_caps(feed, work, category, month_to_date or {})
    currency = feed.currency
    legs = tuple(
        PricedLeg(
            journey_id=item.journey.journey_id,
            route_id=item.journey.route_id,
            network_id=item.network_id,
            agency_id=feed.agency_of(item.journey.route_id),
            from_stop_id=item.journey.from_stop_id,
            to_stop_id=item.journey.to_stop_id,
            departure=item.journey.departure,
            arrival=item.journey.arrival,
            service_day=item.day,
            fare_product_id=item.fare.fare_product_id if item.fare else None,
            undiscounted=feed.money(item.undiscounted),
            charged=feed.money(item.charge),
            incomplete=item.incomplete,
            pass_covered=item.pass_product_id is not None,
            capped=item.capped,
            pass_product_id=item.pass_product_id,
            transfer_product_id=item.transfer_product_id,
            joined=item.joined,
            unpriced_reason=item.unpriced_reason,
        )
        for item in work
    )
    return DayPrice(
        Money(sum(item.charge for item in work), currency), legs, caps_applied, cap_spend
    )


def _price_legs(
    feed: FareFeed,
    journeys: list[Journey],
    category: str | None,
    media: str | None,
    require_known_stops: bool,
) -> list[_Work]:
    """Steps 1-2: join legs into effective legs and find each one's fare."""
    work: list[_Work] = []
    groups: list[list[Journey]] = []
    if feed.join_rules:
        for journey in journeys:
            if groups and _joins(feed, groups[-1][-1], journey, groups[-1][0]):
                groups[-1].append(journey)
            else:
                groups.append([journey])
    else:
        groups = [[journey] for journey in journeys]
    for group in groups:
        first, last = group[0], group[-1]
        open_start = first.from_stop_id is None
        open_end = last.incomplete and not open_start
        incomplete = open_start or open_end
        # Later legs of a joined group are on known routes: join rules name their networks.
        reason = (
            f'route "{first.route_id}" is not in the feed'
            if not feed.knows_route(first.route_id)
            else _unknown_stop(feed, group)
            if require_known_stops
            else None
        )
        known = reason is None
        fare = None
        if known:
            fare = feed.leg_fare(
                first.route_id,
                first.from_stop_id,
                last.to_stop_id,
                first.departure,
                last.arrival,
                category,
                media,
                open_start=open_start,
                open_end=open_end,
            )
            if fare is None and last.to_stop_id is None and not incomplete:
                # A bus ride without tap-off on a route priced by destination: its maximum.
                incomplete = True
                fare = feed.leg_fare(
                    first.route_id,
                    first.from_stop_id,
                    None,
                    first.departure,
                    None,
                    category,
                    media,
                    open_end=True,
                )
            if fare is None:
                reason = (
                    f'no fare on route "{first.route_id}" from "{first.from_stop_id or "?"}" '
                    f'to "{last.to_stop_id or "?"}"'
                )
        day = feed.service_day_of(first.route_id, first.departure)
        if len(group) == 1 and fare is not None:
            # The common case, kept to the fields that differ from the defaults.
            work.append(
                _Work(
                    first,
                    feed.network_of(first.route_id),
                    day,
                    fare,
                    incomplete or first.incomplete,
                    fare.amount,
                    fare.amount,
                    last.arrival,
                )
            )
            continue
        for position, journey in enumerate(group):
            amount = fare.amount if fare is not None and position == 0 else 0
            work.append(
                _Work(
                    journey,
                    feed.network_of(journey.route_id),
                    day,
                    fare,
                    incomplete or journey.incomplete,
                    amount,
                    amount,
                    last.arrival,
                    joined=len(group) > 1,
                    continuation=position > 0,
                    unpriced_reason=reason,
                    coverable=fare is None and known,
                )
            )
    return work


def _unknown_stop(feed: FareFeed, group: list[Journey]) -> str | None:
    """Why the feed cannot price these legs at all (a stop it does not know), if so."""
    for journey in group:
        for stop_id in (journey.from_stop_id, journey.to_stop_id):
            if stop_id is not None and not feed.knows_stop(stop_id):
                return f'stop "{stop_id}" is not in the feed'
    return None


def _joins(feed: FareFeed, previous: Journey, current: Journey, first: Journey) -> bool:
    """Whether `current` extends the effective leg ending with `previous` (join rules)."""
    if previous.incomplete or current.from_stop_id is None:
        return False
    from_network = feed.network_of(previous.route_id)
    to_network = feed.network_of(current.route_id)
    for rule in feed.join_rules:
        if rule.from_network_id != from_network or rule.to_network_id != to_network:
            continue
        if rule.from_stop_id is not None and not (
            _at_stop(feed, previous.to_stop_id, rule.from_stop_id)
            and _at_stop(feed, current.from_stop_id, rule.to_stop_id)
        ):
            continue
        if rule.duration_limit is not None and not within_duration(
            rule.duration_limit,
            rule.duration_limit_type,
            first.departure,
            previous.arrival or previous.departure,
            current.departure,
            current.arrival or current.departure,
        ):
            continue
        return True
    return False


def _at_stop(feed: FareFeed, stop_id: str | None, rule_stop: str | None) -> bool:
    return stop_id is not None and (
        stop_id == rule_stop or feed.parent_station(stop_id) == rule_stop
    )


def _apply_transfers(
    feed: FareFeed, work: list[_Work], category: str | None, media: str | None
) -> None:
    """Step 4: walk the legs (skipping pass-covered and joined continuation legs) in order."""
    chain: list[tuple[_Work, LegFare]] = []
    for item in work:
        fare = item.fare
        if item.pass_product_id is not None or item.continuation or fare is None:
            continue
        best: Transfer | None = None
        last = len(chain) - 1
        # Only a nonconsecutive rule can link to a leg before the previous one.
        start = 0 if feed.nonconsecutive_transfers else max(last, 0)
        current = _timing(item)
        for position in range(start, len(chain)):
            earlier, earlier_fare = chain[position]
            transfer = find_transfer(
                feed,
                earlier_fare.leg_group_id,
                fare.leg_group_id,
                len(chain),
                _timing(chain[0][0]),
                _timing(earlier),
                current,
                item.undiscounted,
                earlier.charge,
                category,
                media,
                adjacent=position == last,
            )
            if transfer is not None and (best is None or transfer.charge < best.charge):
                best = transfer
        if best is None:
            chain = [(item, fare)]
        else:
            item.charge = best.charge
            item.transfer_product_id = best.rule.fare_product_id
            chain.append((item, fare))


def _apply_v1_covers(feed: FareFeed, work: list[_Work]) -> None:
    """Step 4 (Fares v1): the cheapest cover of the complete legs not under a pass.

    A run of legs one fare covers is charged that fare on its first leg and 0 on the others,
    which name the fare as their transfer product; `undiscounted` keeps each leg's own fare. A
    leg no fare covers alone becomes priced when a run covers it.
    """
    items = [
        item
        for item in work
        if item.pass_product_id is None
        and not item.incomplete
        and item.journey.from_stop_id is not None
        and item.journey.to_stop_id is not None
        and (item.fare is not None or item.coverable)
    ]
    legs = [
        CoverLeg(
            route_id=item.journey.route_id,
            from_stop_id=item.journey.from_stop_id or "",
            to_stop_id=item.journey.to_stop_id or "",
            departure=item.journey.departure,
            priced_alone=item.fare is not None,
        )
        for item in items
    ]
    for start, end, fare in cheapest_cover(feed, legs):
        if fare is None or (end - start == 1 and items[start].fare is not None):
            continue  # unpriced, or a run of one leg already charged its own fare
        for position in range(start, end):
            item = items[position]
            item.fare = fare
            item.unpriced_reason = None
            item.charge = fare.amount if position == start else 0
            if position > start:
                item.transfer_product_id = fare.fare_product_id


def _timing(item: _Work) -> LegTiming:
    return LegTiming(item.journey.departure, item.arrival or item.journey.departure)


def _apply_caps(
    feed: FareFeed, work: list[_Work], category: str | None, month_to_date: Mapping[str, Money]
) -> tuple[tuple[AppliedCap, ...], dict[str, Money]]:
    """Step 5: cap each leg's charge by what is left under the caps covering it."""
    currency = feed.currency
    if not feed.caps:
        return (), {}
    spent: dict[tuple[str, date], int] = {}
    saved: dict[tuple[str, date], int] = {}
    spend_by_cap: dict[str, int] = {}
    per_day, per_month = CapPeriod.DAY, CapPeriod.MONTH  # locals: enum lookups cost per leg
    for item in work:
        caps = feed.caps_for(item.network_id, category)
        if not caps:
            continue
        day = item.day
        month: date | None = None
        keys: list[tuple[str, date]] = []
        left = binding = None
        for cap in caps:
            if cap.period is per_day:
                key = (cap.cap_id, day)
            else:
                month = month or service_month(day)
                key = (cap.cap_id, month)
            already = spent.get(key)
            if already is None:
                prior = month_to_date.get(cap.cap_id) if cap.period is per_month else None
                already = spent[key] = prior.amount if prior is not None else 0
            remaining = cap.amount.amount - already
            if left is None or remaining < left:
                left, binding = remaining, key
            keys.append(key)
        assert left is not None
        assert binding is not None
        if item.charge > left:
            saving = item.charge - max(left, 0)
            item.charge -= saving
            item.capped = True
            saved[binding] = saved.get(binding, 0) + saving
        for key in keys:
            spent[key] += item.charge
            spend_by_cap[key[0]] = spend_by_cap.get(key[0], 0) + item.charge
    by_id = feed.caps_by_id
    applied = tuple(
        AppliedCap(
            cap_id, by_id[cap_id].period, start, by_id[cap_id].amount, Money(amount, currency)
        )
        for (cap_id, start), amount in sorted(saved.items())
    )
    return applied, {cap_id: Money(amount, currency) for cap_id, amount in spend_by_cap.items()}
