"""Use cases of riders: register, buy a pass, and the deny list gates load (a lost phone is
`services.passengers.report_lost`).

Each takes a `UnitOfWorkFactory`, runs in one transaction of its own (retried if the database
aborts it for a deadlock or a serialization conflict) and returns plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from qr.denylist import DenyList, DenyListDelta
from ticketing.errors import PassNotSold
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import pass_validity
from ticketing.money import Money
from ticketing.postings import pass_sale
from ticketing.riders import CredentialRecord, PassRecord, RiderAccount
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow


@dataclass(frozen=True, slots=True)
class Registration:
    """A rider to register: the account and the credentials their phone holds."""

    account: RiderAccount
    credentials: Sequence[CredentialRecord] = ()


@dataclass(frozen=True, slots=True)
class PassSale:
    pass_id: str
    account_id: str
    product_id: str
    valid_from: datetime
    valid_until: datetime
    price: Money
    posting_id: str


def pass_id_of(account_id: str, product_id: str) -> str:
    return f"{account_id}:{product_id}"


async def register_riders(
    uows: UnitOfWorkFactory, registrations: Sequence[Registration], *, at: datetime
) -> int:
    """Open each account (and its ledger account) and record its credentials, all in one
    transaction. Idempotent: registering the same riders again changes nothing."""

    async def register(uow: UnitOfWork) -> int:
        for registration in registrations:
            await uow.riders.open_account(registration.account, at=at)
            for credential in registration.credentials:
                await uow.riders.issue_credential(credential)
        return len(registrations)

    return await run_in_uow(uows, register)


async def buy_pass(
    uows: UnitOfWorkFactory, feed: FareFeed, account_id: str, product_id: str, *, at: datetime
) -> PassSale:
    """Sell a pass valid from `at` at the feed's price for the rider's category: the price is
    posted from the rider's wallet (or receivable) to unearned pass revenue, and the pass
    recorded. Buying the same pass again returns the same sale."""

    async def sell(uow: UnitOfWork) -> PassSale:
        account = await uow.riders.get_account(account_id)
        amount = feed.amount_of(product_id, account.rider_category, None)
        if amount is None:
            raise PassNotSold(f"{product_id} is not sold to {account.rider_category}")
        held = pass_validity(feed, product_id, at)
        price = Money(amount, feed.currency)
        posting = pass_sale(account, product_id, held.valid_from, price, at)
        await uow.ledger.post(posting)
        bought = await uow.riders.record_pass(
            PassRecord(
                pass_id_of(account_id, product_id),
                account_id,
                product_id,
                held.valid_from,
                held.valid_until,
                price,
                at,
                posting_id=posting.id,
            )
        )
        return PassSale(
            bought.id,
            account_id,
            product_id,
            bought.valid_from,
            bought.valid_until,
            bought.price,
            posting.id,
        )

    return await run_in_uow(uows, sell)


async def deny_list_snapshot(uows: UnitOfWorkFactory) -> DenyList:
    """The whole deny list, in the shape gates verify with."""
    async with uows() as uow:
        return await uow.deny_list.snapshot()


async def deny_list_delta(uows: UnitOfWorkFactory, since: int) -> DenyListDelta | None:
    """What takes a gate's deny list from version `since` to the current one (None: none)."""
    async with uows() as uow:
        return await uow.deny_list.delta(since)
