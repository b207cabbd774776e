"""The demo's riders: who they are, how they pay, what they hold, and their phone credentials."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from qr.credential import CredentialFlags, RiderCategory
from qr.issue import PhoneCredential, issue_credential
from qr.keys import KeyMaterial
from simulators.network import SimRoute
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import pass_validity
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, buy_pass
from ticketing.unit_of_work import UnitOfWorkFactory

# (feed rider category, credential category, share of riders)
CATEGORY_MIX = (
    ("regular", RiderCategory.ADULT, 0.72),
    ("priority", RiderCategory.PRIORITY, 0.15),
    ("senior_60_plus", RiderCategory.SENIOR, 0.07),
    ("child_under_6", RiderCategory.CHILD, 0.03),
    ("disability", RiderCategory.DISABLED, 0.03),
)
POSTPAID_SHARE = 0.4
PASS_HOLDER_SHARE = 0.08
# Monthly pass of a rider's home route, by the route's network prefix.
MONTHLY_PASS = {"m2a": "m2a_month", "m3": "m3_month"}
BUS_MONTHLY_PASS = "bus_month_all"
FIRST_CREDENTIAL_ID = 7_000_000_000


@dataclass(frozen=True, slots=True)
class DemoRider:
    account_id: str
    category: str
    payment_mode: PaymentMode
    home_route: str
    phone: PhoneCredential
    pass_product: str | None


def make_riders(
    keys: KeyMaterial,
    feed: FareFeed,
    routes: Sequence[SimRoute],
    count: int,
    now: datetime,
    *,
    seed: int,
) -> list[DemoRider]:
    rng = random.Random(seed)
    categories = [c for c, _, _ in CATEGORY_MIX]
    weights = [w for _, _, w in CATEGORY_MIX]
    qr_category = {c: q for c, q, _ in CATEGORY_MIX}
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
        phone = issue_credential(
            keys,
            credential_id=FIRST_CREDENTIAL_ID + number,
            product="PASS" if pass_product else "PAYG",
            now=now - timedelta(days=1),
            category=qr_category[category],
            valid_until=now + timedelta(days=30),
            flags=CredentialFlags.POSTPAID
            if mode is PaymentMode.POSTPAID_CARD
            else CredentialFlags.NONE,
        )
        riders.append(
            DemoRider(f"r{number:05d}", category, mode, route.route_id, phone, pass_product)
        )
    for rider in riders:
        if rider.pass_product:
            pass_validity(feed, rider.pass_product, now)  # fail early on a product the feed lacks
    return riders


def registrations(riders: Sequence[DemoRider], now: datetime) -> list[Registration]:
    """Each rider's account and the credential their phone holds."""
    return [
        Registration(
            RiderAccount(rider.account_id, rider.category, rider.payment_mode, "VND"),
            (
                CredentialRecord(
                    rider.phone.credential.credential_id,
                    rider.account_id,
                    rider.phone.credential.valid_from,
                    rider.phone.credential.valid_until,
                    now,
                ),
            ),
        )
        for rider in riders
    ]


async def sell_passes(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, riders: Sequence[DemoRider], now: datetime
) -> int:
    """Pass holders buy their monthly pass (paid from the wallet, or owed by postpaid riders)."""
    sold = 0
    for rider in riders:
        if rider.pass_product is not None:
            await buy_pass(uow_factory, feed, rider.account_id, rider.pass_product, at=now)
            sold += 1
    return sold
