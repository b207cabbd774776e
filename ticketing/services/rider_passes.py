"""A rider's passes on the page: the catalogue they may buy (the fare feed's pass products
sold to their category, with price and the validity a purchase now would have), the passes
they hold, and renewing one for its next period.

A pass is one account, product and first service day (`services.riders.pass_id_of`), so a
renewal is the purchase of the same product starting when the held pass runs out: asked twice,
it is the same pass, charged once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ticketing.errors import PassNotRenewable, UnknownRecord
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import pass_validity
from ticketing.gtfs.records import PassKind
from ticketing.money import Money
from ticketing.payment_flows.service import PaymentsService
from ticketing.riders import PassRecord, PassStatus
from ticketing.services.riders import PassSale, buy_pass
from ticketing.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """A pass product a rider may buy, at their price, valid over [valid_from, valid_until)
    if bought at the moment asked."""

    product_id: str
    name: str
    kind: PassKind
    price: Money
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class HeldPass:
    """A pass the account bought; `current` while it covers the moment asked; `kind` None for
    a product the feed no longer has. (The API names it in the rider's language.)"""

    record: PassRecord
    kind: PassKind | None
    current: bool


def product_label(feed: FareFeed, product_id: str) -> str:
    return feed.product_name(product_id) or product_id


def pass_catalogue(feed: FareFeed, category: str, at: datetime) -> list[CatalogueEntry]:
    """The feed's passes sold to `category` (a row for it or for every rider and a price for
    it), day passes first, then by price and name."""
    entries = []
    for product_id, coverage in feed.passes.items():
        if any(row.rider_category_id not in (None, category) for row in coverage):
            continue
        amount = feed.amount_of(product_id, category, None)
        if amount is None:
            continue
        validity = pass_validity(feed, product_id, at)
        entries.append(
            CatalogueEntry(
                product_id,
                product_label(feed, product_id),
                coverage[0].kind,
                Money(amount, feed.currency),
                validity.valid_from,
                validity.valid_until,
            )
        )
    entries.sort(key=lambda e: (e.kind is not PassKind.DAY, e.price.amount, e.name))
    return entries


async def held_passes(
    uows: UnitOfWorkFactory, feed: FareFeed, account_id: str, at: datetime
) -> list[HeldPass]:
    """Every pass the account bought, the latest ending first."""
    async with uows() as uow:
        records = await uow.riders.passes_for(account_id)
    records.sort(key=lambda p: (p.valid_until, p.id), reverse=True)
    return [
        HeldPass(
            record,
            _kind(feed, record.fare_product_id),
            record.status is PassStatus.ACTIVE and record.valid_from <= at < record.valid_until,
        )
        for record in records
    ]


def _kind(feed: FareFeed, product_id: str) -> PassKind | None:
    coverage = feed.passes.get(product_id)
    return coverage[0].kind if coverage else None


async def renew_pass(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    account_id: str,
    pass_id: str,
    *,
    at: datetime,
    payments: PaymentsService | None = None,
) -> PassSale:
    """The next period of the account's pass `pass_id`: the same product, starting when it
    runs out (now, if it already has). UnknownRecord for a pass that is not this account's;
    PassNotRenewable for one refunded or cancelled."""
    async with uows() as uow:
        held = await uow.riders.find_pass(pass_id)
    if held is None or held.account_id != account_id:
        raise UnknownRecord(f"no pass {pass_id[:100]!r} on this account")
    if held.status is not PassStatus.ACTIVE:
        raise PassNotRenewable(
            f"pass {pass_id!r} was {held.status.value}: buy a new one from the catalogue"
        )
    return await buy_pass(
        uows, feed, account_id, held.fare_product_id,
        at=at, payments=payments, starts_at=held.valid_until,
    )  # fmt: skip
