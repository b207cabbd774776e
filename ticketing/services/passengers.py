"""Use cases of a passenger on their own account: register (the rider account and its sign-in
user), fetch the phone credential, read trips, charges and receipts and what the account
stands at, and report a lost phone.

Saving a card and topping up go through `ticketing.payment_flows.service.PaymentsService`; buying a
pass through `ticketing.services.riders.buy_pass`. Every function here takes the account id of
the signed-in passenger: callers (the HTTP API) never pass an id the passenger typed.

The phone credential is issued when fetched: the first fetch signs a credential (with the
issuer keys given) and records it; every later fetch signs a new one and revokes the ones
issued before (reason `reissued`), so a credential copied off an old fetch stops working once
gates load the deny list. The signed credential and its TOTP seed leave the server only in
that answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from qr.credential import CredentialFlags, RiderCategory
from qr.errors import QRError
from qr.issue import PhoneCredential, issue_credential
from qr.keys import KeyMaterial
from ticketing.errors import CredentialNotIssued, NoLiveCredential, UnknownRecord
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payment_flows.debt import debt_reason
from ticketing.payments.model import AttemptStatus, PaymentPurpose
from ticketing.postings import rider_ledger_account
from ticketing.riders import AccountStatus, CredentialRecord, PassStatus, PaymentMode, RiderAccount
from ticketing.services.users import add_user, hash_password
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow
from ticketing.users import ApiUser, UserRole, check_user

REISSUED = "reissued"  # the revoke reason of a credential replaced by a newer fetch
LOST_PHONE = "lost-phone"  # the revoke reason of a credential reported lost
PAY_AS_YOU_GO = "PAYG"  # the credential's product code without a pass
PASS_HOLDER = "PASS"  # ... and with an active pass
DEFAULT_CATEGORY = "regular"
DEFAULT_CURRENCY = "VND"
MAX_LISTED = 200  # trips, charges and receipts listed per request, newest first
# Feed rider categories and the category printed on the credential (gates show it).
CREDENTIAL_CATEGORIES = {
    "regular": RiderCategory.ADULT,
    "priority": RiderCategory.PRIORITY,
    "child_under_6": RiderCategory.CHILD,
    "senior_60_plus": RiderCategory.SENIOR,
    "disability": RiderCategory.DISABLED,
}
_ID_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class AccountOverview:
    """What a passenger sees of their account. `balance` is the wallet's money for a prepaid
    account and what is owed for a postpaid one (`owed`)."""

    account: RiderAccount
    balance: Money
    owed: Money
    card_last4: str | None
    has_card: bool
    live_credentials: int
    # What fares and parking may still take from the wallet (above its floor, less money
    # held at parking lots); zero for a postpaid account.
    spendable: Money


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A credential signed for the phone, its record, and the credentials it replaced."""

    phone: PhoneCredential
    record: CredentialRecord
    revoked: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Trip:
    """One priced leg of the latest price of its service day."""

    service_day: date
    started_at: datetime
    ended_at: datetime | None
    route_id: str
    operator_id: str
    from_stop_id: str
    to_stop_id: str | None
    fare: Money
    undiscounted: Money
    fare_product_id: str | None
    pass_covered: bool
    capped: bool
    incomplete: bool
    transfer: bool


@dataclass(frozen=True, slots=True)
class Charge:
    """One payment attempt on the passenger's card."""

    attempt_id: str
    purpose: PaymentPurpose
    service_day: date | None
    amount: Money
    status: AttemptStatus
    decline_code: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Receipt:
    """Money the passenger paid: a card payment that went through, or a pass bought."""

    receipt_id: str
    kind: str  # "top_up", "daily_charge" or "pass"
    at: datetime
    amount: Money
    description: str


def new_account_id() -> str:
    return "p-" + secrets.token_hex(8)


def passenger_account(
    account_id: str,
    *,
    payment_mode: PaymentMode = PaymentMode.PREPAID_WALLET,
    rider_category: str = DEFAULT_CATEGORY,
    currency: str = DEFAULT_CURRENCY,
) -> RiderAccount:
    return RiderAccount(account_id, rider_category, payment_mode, currency)


async def open_passenger_account(uow: UnitOfWork, account: RiderAccount, at: datetime) -> None:
    """Open the rider account (and its ledger account) in the caller's transaction: the API's
    register use case opens it together with the passenger's sign-in user."""
    await uow.riders.open_account(account, at=at)


@dataclass(frozen=True, slots=True)
class Registered:
    user: ApiUser
    account: RiderAccount


async def register_passenger(
    uows: UnitOfWorkFactory,
    username: str,
    password: str,
    *,
    payment_mode: PaymentMode = PaymentMode.PREPAID_WALLET,
    at: datetime,
) -> Registered:
    """Open a rider account and its passenger user (who signs in with `username` and
    `password`) in one transaction. Raises InvalidUser (bad username or password) or
    UserExists (the username is taken)."""
    account = passenger_account(new_account_id(), payment_mode=payment_mode)
    user = ApiUser(username, UserRole.PASSENGER, account.id)
    check_user(user)
    password_hash = await hash_password(password)

    async def register(uow: UnitOfWork) -> Registered:
        await open_passenger_account(uow, account, at)
        await add_user(uow, user, password_hash)
        return Registered(user, account)

    return await run_in_uow(uows, register)


async def account_overview(uows: UnitOfWorkFactory, account_id: str) -> AccountOverview:
    async with uows() as uow:
        account = await uow.riders.get_account(account_id)
        ledger_balance = await uow.ledger.balance(rider_ledger_account(account))
        card = await uow.payments.saved_card(account_id)
        live = [c for c in await uow.riders.credentials_for(account_id) if c.revoked_at is None]
        wallet = (await uow.ledger.accounts([accounts.wallet(account_id)])).get(
            accounts.wallet(account_id)
        )
    zero = Money(0, account.currency)
    if account.payment_mode is PaymentMode.PREPAID_WALLET:
        balance = ledger_balance
        owed = -ledger_balance if ledger_balance.amount < 0 else zero
    else:
        balance, owed = zero, ledger_balance
    return AccountOverview(
        account,
        balance,
        owed,
        None if card is None else card.last4,
        card is not None,
        len(live),
        Money(0 if wallet is None else max(wallet.available, 0), account.currency),
    )


def _sign(
    keys: KeyMaterial, account: RiderAccount, credential_id: int, product: str, at: datetime
) -> PhoneCredential:
    flags = (
        CredentialFlags.POSTPAID
        if account.payment_mode is PaymentMode.POSTPAID_CARD
        else CredentialFlags.NONE
    )
    try:
        return issue_credential(
            keys,
            credential_id=credential_id,
            product=product,
            now=at,
            category=CREDENTIAL_CATEGORIES.get(account.rider_category, RiderCategory.ADULT),
            flags=flags,
        )
    except QRError as error:
        raise CredentialNotIssued(f"cannot sign a credential now: {error}") from error


async def _unused_credential_id(uow: UnitOfWork) -> int:
    for _ in range(_ID_ATTEMPTS):
        candidate = secrets.randbits(63) or 1
        try:
            await uow.riders.get_credential(candidate)
        except UnknownRecord:
            return candidate
    raise CredentialNotIssued("no unused credential id found")  # pragma: no cover


async def _new_phone_credential(
    uow: UnitOfWork, keys: KeyMaterial, account: RiderAccount, at: datetime
) -> tuple[PhoneCredential, CredentialRecord]:
    passes = await uow.riders.passes_for(account.id, valid_at=at)
    product = PASS_HOLDER if any(p.status is PassStatus.ACTIVE for p in passes) else PAY_AS_YOU_GO
    credential_id = await _unused_credential_id(uow)
    phone = _sign(keys, account, credential_id, product, at)
    signed = phone.credential
    record = CredentialRecord(credential_id, account.id, signed.valid_from, signed.valid_until, at)
    return phone, record


async def fetch_credential(
    uows: UnitOfWorkFactory, keys: KeyMaterial, account_id: str, *, at: datetime
) -> IssuedCredential:
    """Sign and record a new phone credential; revoke (and deny) every earlier live one."""

    async def issue(uow: UnitOfWork) -> IssuedCredential:
        account = await uow.riders.get_account(account_id)
        earlier = [c for c in await uow.riders.credentials_for(account_id) if c.revoked_at is None]
        phone, record = await _new_phone_credential(uow, keys, account, at)
        await uow.riders.issue_credential(record)
        # A credential denied for unpaid debt is not escaped by fetching a new one.
        denied = [await uow.deny_list.is_denied(c.credential_id) for c in earlier]
        if account.status is AccountStatus.DEBT_RECOVERY and any(denied):
            await uow.deny_list.deny(record.credential_id, debt_reason(account_id), at=at)
        for old in earlier:
            await uow.riders.revoke_credential(old.credential_id, REISSUED, at=at)
        return IssuedCredential(phone, record, tuple(c.credential_id for c in earlier))

    return await run_in_uow(uows, issue)


@dataclass(frozen=True, slots=True)
class Reissue:
    """A lost phone handled: the old credential revoked and denied, a new one issued."""

    revoked: CredentialRecord
    issued: CredentialRecord
    deny_list_version: int


@dataclass(frozen=True, slots=True)
class LostPhone:
    """A lost phone reported: its credential revoked and denied, the new phone's credential."""

    reissue: Reissue
    phone: PhoneCredential
    also_revoked: tuple[int, ...]


async def report_lost(
    uows: UnitOfWorkFactory, keys: KeyMaterial, account_id: str, *, at: datetime
) -> LostPhone:
    """Revoke the newest live credential as lost (gates refuse it once they sync the deny
    list), issue the replacement for the new phone, and revoke any other live one as
    reissued, in one transaction."""

    async def reissue(uow: UnitOfWork) -> LostPhone:
        account = await uow.riders.get_account(account_id)
        live = [c for c in await uow.riders.credentials_for(account_id) if c.revoked_at is None]
        if not live:
            raise NoLiveCredential(f"account {account_id!r} has no live credential")
        phone, record = await _new_phone_credential(uow, keys, account, at)
        *others, lost = live
        revoked = await uow.riders.revoke_credential(lost.credential_id, LOST_PHONE, at=at)
        issued = await uow.riders.issue_credential(record)
        for other in others:
            await uow.riders.revoke_credential(other.credential_id, REISSUED, at=at)
        return LostPhone(
            Reissue(revoked, issued, await uow.deny_list.version()),
            phone,
            tuple(c.credential_id for c in others),
        )

    return await run_in_uow(uows, reissue)


async def trips(uows: UnitOfWorkFactory, account_id: str, *, limit: int = MAX_LISTED) -> list[Trip]:
    """The account's priced legs (of each day's latest price), newest first."""
    async with uows() as uow:  # rows read inside: closing the session expires them
        return [
            Trip(
                row.service_day,
                row.started_at,
                row.ended_at,
                row.route_id,
                row.operator_id,
                row.from_stop_id,
                row.to_stop_id,
                Money(row.amount, row.currency),
                Money(row.undiscounted_amount, row.currency),
                row.fare_product_id,
                row.pass_covered,
                row.capped,
                row.incomplete,
                row.joined or row.transfer_product_id is not None,
            )
            for row in await uow.pricing.latest_legs(account_id, limit=limit)
        ]


async def charges(
    uows: UnitOfWorkFactory, account_id: str, *, limit: int = MAX_LISTED
) -> list[Charge]:
    """Every payment attempt on the account's card, newest first."""
    async with uows() as uow:
        listed = [
            Charge(
                attempt.id,
                attempt.purpose,
                attempt.service_day,
                attempt.amount,
                attempt.status,
                attempt.decline_code,
                attempt.created_at,
            )
            for attempt in await uow.payments.attempts(account_id)
        ]
    listed.sort(key=lambda c: (c.created_at, c.attempt_id), reverse=True)
    return listed[:limit]


_PAID = (AttemptStatus.SUCCEEDED,)


async def receipts(
    uows: UnitOfWorkFactory, account_id: str, *, limit: int = MAX_LISTED
) -> list[Receipt]:
    """What the passenger paid, newest first: card payments that went through (a declined
    daily charge paid later appears as the retry that paid it) and passes bought."""
    async with uows() as uow:
        attempts = await uow.payments.attempts(account_id)
        passes = await uow.riders.passes_for(account_id)
        found = [
            Receipt(
                f"payment:{row.id}",
                row.purpose.value,
                row.updated_at,
                row.amount,
                "Wallet top-up"
                if row.purpose is PaymentPurpose.TOP_UP
                else f"Fares of {row.service_day.isoformat() if row.service_day else 'a day'}",
            )
            for row in attempts
            if row.status in _PAID
        ]
    found += [
        Receipt(
            f"pass:{bought.id}",
            "pass",
            bought.purchased_at,
            bought.price,
            f"Pass {bought.fare_product_id}"
            + ("" if bought.status is PassStatus.ACTIVE else f" ({bought.status.value})"),
        )
        for bought in passes
    ]
    found.sort(key=lambda r: (r.at, r.receipt_id), reverse=True)
    return found[:limit]
