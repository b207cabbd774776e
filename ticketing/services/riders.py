"""Use cases of riders: register, buy a pass, and the deny list gates load (a lost phone is
`services.passengers.report_lost`).

Each takes a `UnitOfWorkFactory`, runs in one transaction of its own (retried if the database
aborts it for a deadlock or a serialization conflict) and returns plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from qr.denylist import DenyList, DenyListDelta
from ticketing.errors import (
    PassNeedsCard,
    PassNotSold,
    PassOverlaps,
    PassPaymentDeclined,
    RecordConflict,
)
from ticketing.fares.feed import FareFeed
from ticketing.fares.passes import HeldPass, pass_first_day, pass_validity
from ticketing.ledger.errors import PostingConflict
from ticketing.money import Money
from ticketing.payment_flows.service import PaymentsService
from ticketing.postings import pass_sale, pass_sale_id
from ticketing.riders import CredentialRecord, PassRecord, PassStatus, PaymentMode, RiderAccount
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


def pass_id_of(account_id: str, product_id: str, first_day: date) -> str:
    """A pass's one identity: the account, the product and its first service day."""
    return f"{account_id}:{product_id}:{first_day.isoformat()}"


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
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    account_id: str,
    product_id: str,
    *,
    at: datetime,
    payments: PaymentsService | None = None,
    starts_at: datetime | None = None,
) -> PassSale:
    """Sell a pass valid from `starts_at` (a renewal: when the held one runs out; None: `at`,
    the moment of purchase) at the feed's price for the rider's category: the price is
    posted from the rider's wallet (or receivable) to unearned pass revenue, and the pass
    recorded. A postpaid rider pays it by card at purchase through `payments` (the payment
    credits the receivable the sale debits, so no day's charge carries it); a declined card
    sells nothing (PassPaymentDeclined).

    A pass is one account, product and first service day: buying it again (a retry, a second
    tap on "buy" the same day) is the same sale, charged once; once it has run out, the next
    one is a new pass. One of the same product bought while an active one still covers part of
    its period raises PassOverlaps, saying until when the held one runs."""

    start = at if starts_at is None else max(starts_at, at)

    async def sell(uow: UnitOfWork) -> PassSale:
        account = await uow.riders.get_account(account_id)
        amount = feed.amount_of(product_id, account.rider_category, None)
        if amount is None:
            raise PassNotSold(f"{product_id} is not sold to {account.rider_category}")
        first_day = pass_first_day(feed, product_id, start)
        pass_id = pass_id_of(account_id, product_id, first_day)
        held = await uow.riders.find_pass(pass_id)
        if held is None:
            validity = pass_validity(feed, product_id, start)
            price = Money(amount, feed.currency)
            held = await _record_sale(uow, account, pass_id, first_day, validity, price, at)
        elif held.status is not PassStatus.ACTIVE:
            raise PassOverlaps(
                f"pass {pass_id!r} from {first_day} was {held.status.value}: "
                "it cannot be bought again"
            )
        return PassSale(  # in UTC, as stored: the same answer whenever it is asked again
            held.id,
            account_id,
            product_id,
            held.valid_from.astimezone(UTC),
            held.valid_until.astimezone(UTC),
            held.price,
            held.posting_id or pass_sale_id(account_id, product_id, first_day),
        )

    if payments is not None:
        await _pay_at_purchase(uows, feed, payments, account_id, product_id, start)
    try:
        return await run_in_uow(uows, sell)
    except (PostingConflict, RecordConflict):
        # The same purchase sold at this moment by another request: it is that sale.
        return await run_in_uow(uows, sell)


async def _pay_at_purchase(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    payments: PaymentsService,
    account_id: str,
    product_id: str,
    start: datetime,
) -> None:
    """A postpaid rider's card charged the pass's price before it is sold (once per pass: the
    payment's key is the pass's identity, the pass starting at `start`); nothing for a
    prepaid rider or a pass already sold. No saved card: PassNeedsCard, since a postpaid
    account has no money of its own and a pass is never sold on credit."""
    async with uows() as uow:
        account = await uow.riders.get_account(account_id)
        if account.payment_mode is not PaymentMode.POSTPAID_CARD:
            return
        amount = feed.amount_of(product_id, account.rider_category, None)
        if amount is None:
            raise PassNotSold(f"{product_id} is not sold to {account.rider_category}")
        first_day = pass_first_day(feed, product_id, start)
        pass_id = pass_id_of(account_id, product_id, first_day)
        if await uow.riders.find_pass(pass_id) is not None:
            return
        _refuse_overlap(
            await uow.riders.passes_for(account_id),
            pass_validity(feed, product_id, start),
            pass_id,
        )
        if await uow.payments.saved_card(account_id) is None:
            raise PassNeedsCard(
                "a postpaid account pays for a pass by card when buying it, and no card is "
                "saved: save a card first (passes are not sold on credit)"
            )
    outcome = await payments.pay_for_pass(account_id, pass_id, Money(amount, feed.currency))
    if not outcome.succeeded:
        raise PassPaymentDeclined(
            f"the card was declined for {product_id} ({outcome.decline_code or outcome.status})"
        )


def _refuse_overlap(held: Sequence[PassRecord], validity: HeldPass, pass_id: str) -> None:
    """PassOverlaps if another active pass of the product covers part of `validity`. The pass
    being sold itself is not another: a concurrent request for the same purchase can commit it
    between this request's look for it and this read (each statement of a READ COMMITTED
    transaction sees the latest commits), and that is the same sale, not an overlap."""
    product_id = validity.fare_product_id
    for other in held:
        if (
            other.id != pass_id
            and other.fare_product_id == product_id
            and other.status is PassStatus.ACTIVE
            and other.valid_from < validity.valid_until
            and validity.valid_from < other.valid_until
        ):
            until = other.valid_until.astimezone(UTC).isoformat()
            raise PassOverlaps(
                f"{product_id} is already held until {until} (pass {other.id!r}): "
                "buy the next one once it has run out"
            )


async def _record_sale(
    uow: UnitOfWork,
    account: RiderAccount,
    pass_id: str,
    first_day: date,
    validity: HeldPass,
    price: Money,
    at: datetime,
) -> PassRecord:
    product_id = validity.fare_product_id
    _refuse_overlap(await uow.riders.passes_for(account.id), validity, pass_id)
    posting = pass_sale(account, product_id, first_day, price, at)
    await uow.ledger.post(posting)
    return await uow.riders.record_pass(
        PassRecord(
            pass_id,
            account.id,
            product_id,
            validity.valid_from,
            validity.valid_until,
            price,
            at,
            posting_id=posting.id,
        )
    )


async def deny_list_snapshot(uows: UnitOfWorkFactory) -> DenyList:
    """The whole deny list, in the shape gates verify with."""
    async with uows() as uow:
        return await uow.deny_list.snapshot()


async def deny_list_delta(uows: UnitOfWorkFactory, since: int) -> DenyListDelta | None:
    """What takes a gate's deny list from version `since` to the current one (None: none)."""
    async with uows() as uow:
        return await uow.deny_list.delta(since)


async def prune_deny_list(uows: UnitOfWorkFactory) -> int:
    """Drop from the deny list the credentials that have expired (a gate refuses them as
    expired anyway), so the list stays bounded; how many were dropped."""

    async def use_case(uow: UnitOfWork) -> int:
        return await uow.deny_list.prune_expired()

    return await run_in_uow(uows, use_case)
