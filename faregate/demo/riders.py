"""The demo's riders: who they are, how they pay, what they hold, and the phone credentials
the backend issues them (`ticketing.services.passengers.fetch_credential`, the passenger
API's use case: the product, category and postpaid flag follow the account)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from qr.issue import PhoneCredential
from qr.keys import KeyMaterial
from simulators.network import SimRoute
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import pass_validity
from ticketing.payment_flows.service import PaymentsService
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.passengers import fetch_credential
from ticketing.services.riders import Registration, buy_pass
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


def registrations(riders: Sequence[RiderPlan]) -> list[Registration]:
    """Each rider's account (their phone's credential comes later, from `issue_phones`)."""
    return [
        Registration(RiderAccount(rider.account_id, rider.category, rider.payment_mode, "VND"))
        for rider in riders
    ]


async def sell_passes(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    riders: Sequence[RiderPlan],
    now: datetime,
    payments: PaymentsService | None = None,
) -> int:
    """Pass holders buy their monthly pass (paid from the wallet, or by a postpaid rider's card
    at purchase through `payments`)."""
    sold = 0
    for rider in riders:
        if rider.pass_product is not None:
            await buy_pass(
                uow_factory, feed, rider.account_id, rider.pass_product, at=now, payments=payments
            )
            sold += 1
    return sold


async def issue_phones(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial, riders: Sequence[RiderPlan], at: datetime
) -> list[DemoRider]:
    """Every rider's phone fetches its credential, as the passenger app does."""
    issued = []
    for rider in riders:
        fetched = await fetch_credential(uow_factory, keys, rider.account_id, at=at)
        issued.append(
            DemoRider(
                rider.account_id,
                rider.category,
                rider.payment_mode,
                rider.home_route,
                fetched.phone,
                rider.pass_product,
            )
        )
    return issued
