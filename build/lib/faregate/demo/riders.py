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
from ticketing.db.uow import UnitOfWorkFactory
from ticketing.errors import TicketingError
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import pass_validity
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.riders import CredentialRecord, PassRecord, PaymentMode, RiderAccount
from ticketing.services.riders import ledger_account_of

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


async def register_riders(
    uow_factory: UnitOfWorkFactory, riders: Sequence[DemoRider], now: datetime
) -> None:
    """Open each rider's account and record the credential their phone holds."""
    async with uow_factory() as uow:
        for rider in riders:
            await uow.riders.open_account(
                RiderAccount(rider.account_id, rider.category, rider.payment_mode, "VND"), at=now
            )
            credential = rider.phone.credential
            await uow.riders.issue_credential(
                CredentialRecord(
                    credential.credential_id,
                    rider.account_id,
                    credential.valid_from,
                    credential.valid_until,
                    now,
                )
            )
        await uow.commit()


async def sell_passes(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, riders: Sequence[DemoRider], now: datetime
) -> int:
    """Pass holders buy their monthly pass: paid from the wallet (or owed, for postpaid riders)
    into unearned pass revenue, which settlement later apportions to operators."""
    sold = 0
    async with uow_factory() as uow:
        for rider in riders:
            if rider.pass_product is None:
                continue
            price = feed.amount_of(rider.pass_product, rider.category, None)
            if price is None:
                raise TicketingError(f"{rider.pass_product} is not sold to {rider.category}")
            held = pass_validity(feed, rider.pass_product, now)
            posting = Posting.transfer(
                f"pass:{rider.account_id}:{rider.pass_product}:{held.valid_from.date()}",
                debit=ledger_account_of(await uow.riders.get_account(rider.account_id)),
                credit=accounts.unearned("passes"),
                amount=Money(price, feed.currency),
                occurred_at=now,
                description=f"{rider.pass_product} bought by {rider.account_id}",
            )
            await uow.ledger.post(posting)
            await uow.riders.record_pass(
                PassRecord(
                    f"{rider.account_id}:{rider.pass_product}",
                    rider.account_id,
                    rider.pass_product,
                    held.valid_from,
                    held.valid_until,
                    Money(price, feed.currency),
                    now,
                    posting_id=posting.id,
                )
            )
            sold += 1
        await uow.commit()
    return sold
