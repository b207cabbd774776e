"""The demo's riders: who they are, how they pay, what they hold. The customer base is loaded
in bulk through the service layer before the day, with the cards most riders saved on earlier
days (the gateway's customers and cards added to its store in one step) and the balances their
prepaid wallets carry from then; on the day a rider's phone signs in when it has an errand:
it saves a card if it has none yet, tops up a wallet that would not cover the day, buys a
pass and fetches its credential over the passenger API (the product, category and postpaid
flag of the credential follow the account)."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path

import httpx

from faregate.errors import BackendError
from qr.issue import PhoneCredential
from simulators.errors import PhoneError
from simulators.network import SimRoute
from simulators.phone import Phone
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import pass_validity
from ticketing.money import Money
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.passengers import GatewayCard, load_passengers
from ticketing.services.users import ScryptCost, hash_password
from ticketing.unit_of_work import UnitOfWorkFactory

# (feed rider category, share of riders)
CATEGORY_MIX = (
    ("regular", 0.72),
    ("priority", 0.15),
    ("senior_60_plus", 0.07),
    ("child_under_6", 0.03),
    ("disability", 0.03),
)
POSTPAID_SHARE = 0.4
PASS_HOLDER_SHARE = 0.08
# Monthly pass of a rider's home route, by the route's network prefix.
MONTHLY_PASS = {"m2a": "m2a_month", "m3": "m3_month"}
BUS_MONTHLY_PASS = "bus_month_all"
# Every demo rider signs in with their account id and this password (`faregate demo --serve`
# prints it: the passenger page shows their day).
PASSENGER_PASSWORD = "demo rider password"
PHONE_CONCURRENCY = 8
CURRENCY = "VND"
# Riders who save their card on the day through the passenger API (the first ones, so the
# declining card is among them): this many, and one in twenty of the rest. The others saved
# it on earlier days: only the day's own card traffic goes through the gateway's API.
CARDS_SAVED_ON_THE_DAY = 100
# A wallet topped up at the gateway when it runs low: with less than this left (two metro
# lines' day caps, 30,000 + 24,000, and some buses: more than a day's rides take) or less than
# this and the pass it buys, its rider tops up on the day. Riders of earlier days carry a
# balance from their last top-ups, spent down since: anything from nothing to a top-up, evenly
# (`carried_balances`), so about one in five of them tops up on a given day, as in a city
# where riders top up every week or so; the riders new to paying (those saving their card on
# the day, the demo's first) hold nothing and all top up, so the day's top-ups and declines
# are exercised however few the riders.
LOW_BALANCE = 60_000
GOOD_CARD = "pm_card_visa"
DECLINING_CARD = "pm_card_chargeCustomerFail"  # localstripe: attaches, then every charge fails


@dataclass(frozen=True, slots=True)
class RiderPlan:
    """A rider of the demo before the backend knows them."""

    account_id: str
    category: str
    payment_mode: PaymentMode
    home_route: str
    pass_product: str | None


@dataclass(frozen=True, slots=True)
class DemoRider:
    account_id: str
    category: str
    payment_mode: PaymentMode
    home_route: str
    phone: PhoneCredential
    pass_product: str | None


def plan_riders(
    feed: FareFeed, routes: Sequence[SimRoute], count: int, now: datetime, *, seed: int
) -> list[RiderPlan]:
    rng = random.Random(seed)
    categories = [c for c, _ in CATEGORY_MIX]
    weights = [w for _, w in CATEGORY_MIX]
    riders = []
    for number in range(count):
        category = rng.choices(categories, weights)[0]
        mode = (
            PaymentMode.POSTPAID_CARD
            if rng.random() < POSTPAID_SHARE
            else PaymentMode.PREPAID_WALLET
        )
        route = rng.choice(routes)
        pass_product = None
        if category == "regular" and rng.random() < PASS_HOLDER_SHARE:
            pass_product = MONTHLY_PASS.get(route.route_id, BUS_MONTHLY_PASS)
        if number == 0:
            # However few riders, one pays full fares by card, so the day has a charge to
            # decline and recover.
            category, mode, pass_product = "regular", PaymentMode.POSTPAID_CARD, None
        riders.append(RiderPlan(f"r{number:05d}", category, mode, route.route_id, pass_product))
    for rider in riders:
        if rider.pass_product:
            pass_validity(feed, rider.pass_product, now)  # fail early on a product the feed lacks
    return riders


def saving_cards_on_the_day(riders: Sequence[RiderPlan]) -> list[RiderPlan]:
    """The riders whose phones save their card on the day; the others hold one already."""
    rest = max(0, len(riders) - CARDS_SAVED_ON_THE_DAY)
    return list(riders[: CARDS_SAVED_ON_THE_DAY + rest // 20])


def carried_balances(riders: Sequence[RiderPlan], *, top_up: int, seed: int) -> dict[str, int]:
    """What the prepaid wallets of earlier days hold (VND, by account; an empty one is left
    out): the riders' but those `saving_cards_on_the_day`, each a seeded whole number of
    thousands from nothing to `top_up` (see LOW_BALANCE). Its own random stream: the riders'
    plan is the same with or without it."""
    rng = random.Random(f"carried balances {seed}")
    today = {r.account_id for r in saving_cards_on_the_day(riders)}
    carried = {
        r.account_id: rng.randrange(0, top_up + 1, 1000)
        for r in riders
        if r.payment_mode is PaymentMode.PREPAID_WALLET and r.account_id not in today
    }
    return {account: amount for account, amount in carried.items() if amount}


def topping_up(feed: FareFeed, riders: Sequence[RiderPlan], carried: Mapping[str, int]) -> set[str]:
    """The prepaid riders whose wallets would not cover the day: less than LOW_BALANCE left
    once the pass they buy is paid."""
    short = set()
    for rider in riders:
        if rider.payment_mode is not PaymentMode.PREPAID_WALLET:
            continue
        needs = LOW_BALANCE
        if rider.pass_product is not None:
            needs += feed.amount_of(rider.pass_product, rider.category, None) or 0
        if carried.get(rider.account_id, 0) < needs:
            short.add(rider.account_id)
    return short


async def cards_of_earlier_days(
    gateway_dir: Path, riders: Sequence[RiderPlan]
) -> dict[str, GatewayCard]:
    """The cards saved before the day (every rider's but those `saving_cards_on_the_day`),
    added to the gateway's store in `gateway_dir` in one step while no gateway runs there
    (`gateways._localstripe_launcher --load-cards`)."""
    today = {r.account_id for r in saving_cards_on_the_day(riders)}
    earlier = [[r.account_id, GOOD_CARD] for r in riders if r.account_id not in today]
    if not earlier:
        return {}
    loader = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateways._localstripe_launcher", "--state-dir", str(gateway_dir),
        "--load-cards", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await loader.communicate(json.dumps(earlier).encode())
    if loader.returncode != 0:
        raise BackendError(f"the gateway's cards of earlier days not loaded: {err.decode()[-500:]}")
    return {
        saved["account"]: GatewayCard(saved["customer"], saved["card"], saved["last4"])
        for saved in json.loads(out)
    }


async def load_customer_base(
    uows: UnitOfWorkFactory,
    riders: Sequence[RiderPlan],
    *,
    at: datetime,
    cards: Mapping[str, GatewayCard] | None = None,
    balances: Mapping[str, int] | None = None,
) -> int:
    """The riders of earlier days, loaded in bulk through the service layer (one transaction):
    each account with its category and payment mode, its passenger user (the account id as
    username, `PASSENGER_PASSWORD`, hashed cheaply once: a demo's sign-ins stay quick), the
    card it saved then (`cards`, from `cards_of_earlier_days`) and its wallet's balance
    (`balances`, VND, from `carried_balances`)."""
    password_hash = await hash_password(PASSENGER_PASSWORD, ScryptCost(n=2**8))
    accounts = [
        (RiderAccount(r.account_id, r.category, r.payment_mode, CURRENCY), r.account_id)
        for r in riders
    ]
    carried = {a: Money(amount, CURRENCY) for a, amount in (balances or {}).items()}
    return await load_passengers(
        uows, accounts, password_hash, at=at, cards=cards, balances=carried
    )


@dataclass
class PhoneTally:
    """What the phones did through the passenger API before the day."""

    cards: int = 0  # saved on the day
    cards_on_file: int = 0  # saved on earlier days
    top_ups: int = 0
    topped_up: int = 0
    passes: int = 0
    credentials: int = 0  # fetched on the day
    credentials_held: int = 0  # fetched on earlier days
    declined: int = 0  # top-ups and pass sales the card's issuer refused
    retried: int = 0  # payment requests sent again after a 502 (the gateway did not answer)


async def _declined_or_paid(tally: PhoneTally, payment: Awaitable[object]) -> bool:
    """Whether the payment went through; a card declined (402) is counted, not an error."""
    try:
        await payment
    except PhoneError as error:
        if error.status != HTTPStatus.PAYMENT_REQUIRED:
            raise
        tally.declined += 1
        return False
    return True


async def morning_phones(
    http: httpx.AsyncClient,
    riders: Sequence[RiderPlan],
    *,
    top_up: int,
    declining: str | None,
    progress: Callable[[], None],
    on_file: Collection[str] = (),
    credentials: Mapping[str, PhoneCredential] | None = None,
    short: Collection[str],
) -> tuple[list[DemoRider], dict[str, Phone], PhoneTally]:
    """Each rider's phone signs in, saves a card unless its account has one `on_file`
    (`declining`'s the one the issuer declines), tops up a prepaid wallet that is `short`
    (by account, from `topping_up`), buys the rider's pass and fetches its
    credential unless it holds one from earlier days (`credentials`, by account), all over
    the passenger API (the payments go through the gateway). A phone with nothing to do (its
    card on file, its credential held, its wallet none or not short) does not sign in."""
    credentials = credentials or {}
    tally = PhoneTally()
    limit = asyncio.Semaphore(PHONE_CONCURRENCY)

    async def one(rider: RiderPlan) -> tuple[DemoRider, Phone]:
        async with limit:
            phone = Phone(http, rider.account_id, PASSENGER_PASSWORD)
            held = credentials.get(rider.account_id)
            tops_up = rider.account_id in short
            if held is None or tops_up:
                await phone.sign_in()  # a phone holding its credential and card has no errand
            if rider.account_id in on_file:
                tally.cards_on_file += 1
            else:
                card = DECLINING_CARD if rider.account_id == declining else GOOD_CARD
                await phone.save_card(card)
                tally.cards += 1
            if tops_up and await _declined_or_paid(
                tally, phone.top_up(top_up, request_id=f"topup-{rider.account_id}")
            ):
                tally.top_ups += 1
                tally.topped_up += top_up
            if rider.pass_product is not None and await _declined_or_paid(
                tally, phone.buy_pass(rider.pass_product)
            ):
                tally.passes += 1
            tally.retried += phone.retries
            if held is None:
                credential = await phone.fetch_credential()
                tally.credentials += 1
            else:
                credential = phone.credential = held
                tally.credentials_held += 1
            progress()
            demo_rider = DemoRider(
                rider.account_id, rider.category, rider.payment_mode, rider.home_route,
                credential, rider.pass_product,
            )  # fmt: skip
            return demo_rider, phone

    done = await asyncio.gather(*(one(r) for r in riders))
    return [r for r, _ in done], {r.account_id: p for r, p in done}, tally
