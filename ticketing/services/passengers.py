"""Use cases of a passenger on their own account: register (the rider account and its sign-in
user), take the phone credential, move it to another phone, ask what became of it, read
charges and receipts and what the account stands at (trips by day:
`ticketing.services.trip_days`), and report a lost phone.

Saving a card and topping up go through `ticketing.payment_flows.service.PaymentsService`; buying a
pass through `ticketing.services.riders.buy_pass`. Every function here takes the account id of
the signed-in passenger: callers (the HTTP API) never pass an id the passenger typed.

The pass lives on one phone. The first phone to ask (`fetch_credential`) gets a credential
signed with the issuer keys given; while it is live, a sign-in elsewhere (a laptop reading
receipts) gets none and changes nothing. Moving the pass is its own step (`move_credential`:
the asking phone gets a new credential, the old one is revoked as `moved` and denied at the
gates; a few times a service day, each in the audit log), and the old phone learns it from
`credential_status` when next online. A lost phone (`report_lost`) loses its credential and
every session of the account at once. The signed credential and its TOTP seed leave the
server only in the answer that issues them.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from qr.credential import CredentialFlags, RiderCategory
from qr.errors import QRError
from qr.issue import PhoneCredential, issue_credential
from qr.keys import KeyMaterial
from ticketing.audit import Actor, AuditAction, AuditQuery, Target, TargetKind
from ticketing.errors import (
    CredentialNotIssued,
    InvalidRecord,
    MoveLimitReached,
    PassOnAnotherPhone,
    UnknownRecord,
)
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.payment_flows.debt import debt_reason
from ticketing.payments.model import AttemptStatus, PaymentPurpose, TopUpOrderStatus
from ticketing.postings import carried_balance, rider_ledger_account
from ticketing.riders import (
    AccountStatus,
    CredentialRecord,
    PassRecord,
    PassStatus,
    PaymentMode,
    RiderAccount,
)
from ticketing.service_day import service_day, service_day_start
from ticketing.services.audit import record
from ticketing.services.users import DEFAULT_COST, ScryptCost, add_user, hash_password
from ticketing.stores.payments import SavedCard
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow
from ticketing.users import ApiUser, UserRole, check_user, login_name
from ticketing.users import display_name as display_name_of

REISSUED = "reissued"  # the revoke reason of a credential replaced by a newer one
LOST_PHONE = "lost-phone"  # the revoke reason of a credential reported lost
MOVED = "moved"  # ... and of one whose pass was moved to another phone
MOVES_PER_DAY = 3  # "use my pass on this phone", per account and service day
PAY_AS_YOU_GO = "PAYG"  # the credential's product code without a pass
PASS_HOLDER = "PASS"  # ... and with an active pass
DEFAULT_CATEGORY = "regular"
DEFAULT_CURRENCY = "VND"
MAX_LISTED = 200  # charges and receipts listed per request, newest first
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


class PaysFor(enum.StrEnum):
    """What a payment pays for, by kind: the rider's page names it in the rider's language
    from the kind and its parameters (`PaidFor`), the API's sentence is the English."""

    TOP_UP = "top_up"
    FARES = "fares"
    FARES_ADJUSTMENT = "fares_adjustment"  # a day's taps that arrived after it was charged
    PARKING = "parking"
    PASS = "pass"


@dataclass(frozen=True, slots=True)
class PaidFor:
    """What a payment pays for: its kind with the day (fares, parking), the product (a pass;
    with its status when no longer active) or the method (a top-up: `card` or `vnpay`)."""

    kind: PaysFor
    service_day: date | None = None
    product_id: str | None = None
    pass_status: str | None = None
    method: str | None = None

    def sentence(self) -> str:
        """In English: "Fares of Sat 5 Dec 2026", "Pass m2a_day", "Wallet top-up by VNPay"."""
        if self.kind is PaysFor.TOP_UP:
            return "Wallet top-up by VNPay" if self.method == "vnpay" else "Wallet top-up"
        if self.kind is PaysFor.PASS:
            status = f" ({self.pass_status})" if self.pass_status else ""
            return f"Pass {self.product_id}{status}"
        day = self.service_day.strftime("%a %-d %b %Y") if self.service_day else "a day"
        if self.kind is PaysFor.PARKING:
            return f"Parking of {day}"
        if self.kind is PaysFor.FARES_ADJUSTMENT:
            return f"Fares of {day}: adjustment (taps that arrived after it was charged)"
        return f"Fares of {day}"


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
    paid_for: PaidFor

    @property
    def covers(self) -> str:
        """What it pays for, named: "Fares of Sat 5 Dec 2026", an adjustment..."""
        return self.paid_for.sentence()


def covered_by(attempt_id: str, purpose: PaymentPurpose, service_day: date | None) -> PaidFor:
    """What a card payment pays for, as the rider's charges and receipts name it: a day's
    fares (that day's only), a day's adjustment for its later taps, a pass, a top-up."""
    if purpose is PaymentPurpose.TOP_UP:
        return PaidFor(PaysFor.TOP_UP, method="card")
    if purpose is PaymentPurpose.PASS_PURCHASE:
        # pass:{account}:{product}:{first day}
        return PaidFor(PaysFor.PASS, product_id=attempt_id.split(":")[-2])
    if attempt_id.endswith(":parking"):
        return PaidFor(PaysFor.PARKING, service_day)
    if ":adjustment-v" in attempt_id:
        return PaidFor(PaysFor.FARES_ADJUSTMENT, service_day)
    return PaidFor(PaysFor.FARES, service_day)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Money the passenger paid: a card payment that went through, or a pass bought."""

    receipt_id: str
    kind: str  # "top_up", "daily_charge" or "pass"
    at: datetime
    amount: Money
    paid_for: PaidFor

    @property
    def description(self) -> str:
        return self.paid_for.sentence()


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
class GatewayCard:
    """A card saved at the gateway: its customer there, the card's id and last four digits."""

    customer_id: str
    card_id: str
    last4: str


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
    display_name: str | None = None,
    at: datetime,
    cost: ScryptCost = DEFAULT_COST,
) -> Registered:
    """Open a rider account and its passenger user (who signs in with `username`, a phone
    number or e-mail address stored as `ticketing.users.login_name` writes it, and
    `password`, hashed at `cost`; shown as `display_name`, any script) in one transaction.
    Raises InvalidUser (bad username, name or password) or UserExists (the username is
    taken)."""
    account = passenger_account(new_account_id(), payment_mode=payment_mode)
    shown = None if display_name is None else display_name_of(display_name)
    user = ApiUser(login_name(username), UserRole.PASSENGER, account.id, shown)
    check_user(user)
    password_hash = await hash_password(password, cost)

    async def register(uow: UnitOfWork) -> Registered:
        await open_passenger_account(uow, account, at)
        await add_user(uow, user, password_hash)
        return Registered(user, account)

    return await run_in_uow(uows, register)


async def load_passengers(
    uows: UnitOfWorkFactory,
    accounts_and_users: Sequence[tuple[RiderAccount, str]],
    password_hash: str,
    *,
    at: datetime,
    cards: Mapping[str, GatewayCard] | None = None,
    balances: Mapping[str, Money] | None = None,
) -> int:
    """The customer base of earlier days in bulk, in one transaction: each rider account with
    its passenger user (`(account, username)`), all signing in with the password whose hash
    is `password_hash` (`hash_password`), the `cards` they saved then (by account: the
    gateway's customer and card, which the gateway holds already) and the `balances` their
    prepaid wallets held then (by account, positive: a `carried_balance` posting each, from
    money collected on earlier days, not through a gateway). Raises InvalidUser or UserExists
    as registering does, InvalidRecord for a balance of an account that is not a prepaid
    wallet of this load or not in its currency; how many were loaded."""
    users = [ApiUser(username, UserRole.PASSENGER, account.id) for account, username in
             accounts_and_users]  # fmt: skip
    for user in users:
        check_user(user)
    carried = _carried_balances([account for account, _ in accounts_and_users], balances or {}, at)
    saved = {a: SavedCard(c.customer_id, c.card_id, c.last4) for a, c in (cards or {}).items()}

    # A few statements per kind for the whole load (the stores' bulk writes): one by one, a
    # rider's six to eight statements took minutes of the demo's CPU at 100,000 riders.
    async def load(uow: UnitOfWork) -> int:
        await uow.riders.open_accounts([account for account, _ in accounts_and_users], at=at)
        await uow.users.add_many(users, password_hash)
        await uow.payments.add_customers(saved)
        await uow.ledger.post_many(carried)
        return len(users)

    return await run_in_uow(uows, load)


def _carried_balances(
    loaded: Sequence[RiderAccount], balances: Mapping[str, Money], at: datetime
) -> list[Posting]:
    """The postings of `balances` carried into the wallets of `loaded`, as of `at`'s day."""
    wallets = {a.id: a.currency for a in loaded if a.payment_mode is PaymentMode.PREPAID_WALLET}
    postings = []
    for account_id, amount in sorted(balances.items()):
        if wallets.get(account_id) != amount.currency:
            raise InvalidRecord(
                f"no prepaid wallet in {amount.currency} among the accounts loaded for the "
                f"balance of {account_id!r}"
            )
        postings.append(carried_balance(account_id, service_day(at), amount, at))
    return postings


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


async def _unused_credential_ids(uow: UnitOfWork, count: int) -> list[int]:
    """`count` random credential ids never issued, checked in one query per attempt."""
    found: set[int] = set()
    for _ in range(_ID_ATTEMPTS):
        candidates = {secrets.randbits(63) or 1 for _ in range(count - len(found))} - found
        found |= candidates - set(await uow.riders.owners(candidates))
        if len(found) == count:
            return sorted(found)
    raise CredentialNotIssued("no unused credential id found")  # pragma: no cover


def _product(passes: Iterable[PassRecord], at: datetime) -> str:
    """The credential's product code: a pass holder's while an active pass covers `at`."""
    covering = (
        p.status is PassStatus.ACTIVE and p.valid_from <= at < p.valid_until for p in passes
    )
    return PASS_HOLDER if any(covering) else PAY_AS_YOU_GO


def _signed(
    keys: KeyMaterial, account: RiderAccount, credential_id: int, product: str, at: datetime
) -> tuple[PhoneCredential, CredentialRecord]:
    phone = _sign(keys, account, credential_id, product, at)
    signed = phone.credential
    record = CredentialRecord(credential_id, account.id, signed.valid_from, signed.valid_until, at)
    return phone, record


async def _new_phone_credential(
    uow: UnitOfWork, keys: KeyMaterial, account: RiderAccount, at: datetime
) -> tuple[PhoneCredential, CredentialRecord]:
    passes = await uow.riders.passes_for(account.id, valid_at=at)
    [credential_id] = await _unused_credential_ids(uow, 1)
    return _signed(keys, account, credential_id, _product(passes, at), at)


async def _unrevoked(uow: UnitOfWork, account_id: str) -> list[CredentialRecord]:
    return [c for c in await uow.riders.credentials_for(account_id) if c.revoked_at is None]


async def _live_credentials(
    uow: UnitOfWork, account_id: str, at: datetime
) -> list[CredentialRecord]:
    """The credentials a phone may hold now: neither revoked nor expired."""
    return [c for c in await _unrevoked(uow, account_id) if c.valid_until > at]


async def _issue(
    uow: UnitOfWork,
    keys: KeyMaterial,
    account: RiderAccount,
    earlier: list[CredentialRecord],
    reason: str,
    at: datetime,
) -> IssuedCredential:
    """Sign and record a new credential and revoke `earlier` (live ones) with `reason`."""
    phone, record = await _new_phone_credential(uow, keys, account, at)
    await uow.riders.issue_credential(record)
    # A credential denied for unpaid debt is not escaped by taking a new one.
    denied = [await uow.deny_list.is_denied(c.credential_id) for c in earlier]
    if account.status is AccountStatus.DEBT_RECOVERY and any(denied):
        await uow.deny_list.deny(record.credential_id, debt_reason(account.id), at=at)
    for old in earlier:
        await uow.riders.revoke_credential(old.credential_id, reason, at=at)
    return IssuedCredential(phone, record, tuple(c.credential_id for c in earlier))


async def fetch_credential(
    uows: UnitOfWorkFactory, keys: KeyMaterial, account_id: str, *, at: datetime
) -> IssuedCredential:
    """The first phone's credential: signed and recorded when the account holds no live one
    (none yet, or the last one expired or was reported lost). If one is live (on another
    phone, or on this phone before its storage was wiped) it is left alone and
    PassOnAnotherPhone is raised: signing in somewhere to read the account
    never takes the pass away from the phone that holds it (see `move_credential`)."""

    return await run_in_uow(uows, lambda uow: _first_credential(uow, keys, account_id, at))


async def fetch_credentials(
    uows: UnitOfWorkFactory, keys: KeyMaterial, account_ids: Sequence[str], *, at: datetime
) -> dict[str, PhoneCredential]:
    """`fetch_credential` for many accounts in one transaction: the credentials a customer
    base's phones fetched on earlier days, by account. Raises PassOnAnotherPhone as it does."""

    # A few statements for the whole base (its accounts, credentials, passes, the new ids'
    # check, one insert): one account at a time took six statements each.
    async def issue(uow: UnitOfWork) -> dict[str, PhoneCredential]:
        found = await uow.riders.find_accounts(account_ids)
        for account_id in account_ids:
            if account_id not in found:
                raise UnknownRecord(f"no rider account {account_id!r}")
        held = await uow.riders.credentials_of(account_ids)
        live = (c.revoked_at is None and c.valid_until > at for cs in held.values() for c in cs)
        if len(set(account_ids)) != len(account_ids) or any(live):
            raise PassOnAnotherPhone(_ON_ANOTHER_PHONE)
        passes = await uow.riders.passes_of(account_ids)
        ids = await _unused_credential_ids(uow, len(account_ids))
        signed = {
            account_id: _signed(
                keys, found[account_id], credential_id, _product(passes.get(account_id, []), at), at
            )
            for account_id, credential_id in zip(account_ids, ids, strict=True)
        }
        await uow.riders.issue_new_credentials([record for _, record in signed.values()])
        return {account_id: phone for account_id, (phone, _) in signed.items()}

    return await run_in_uow(uows, issue)


_ON_ANOTHER_PHONE = "your pass is on another phone; choose 'use my pass on this phone' to move it"


async def _first_credential(
    uow: UnitOfWork, keys: KeyMaterial, account_id: str, at: datetime
) -> IssuedCredential:
    account = await uow.riders.get_account(account_id)
    if await _live_credentials(uow, account_id, at):
        raise PassOnAnotherPhone(_ON_ANOTHER_PHONE)
    return await _issue(uow, keys, account, [], REISSUED, at)


def _account_target(account_id: str) -> Target:
    return Target(TargetKind.ACCOUNT, account_id)


async def _moves_today(uow: UnitOfWork, account_id: str, at: datetime) -> int:
    since = service_day_start(service_day(at))
    page = await uow.audit.page(
        AuditQuery(
            action=AuditAction.PASS_MOVED,
            target_kind=TargetKind.ACCOUNT,
            target_id=account_id,
            since=since,
            limit=MOVES_PER_DAY + 1,
        )
    )
    return len(page.entries)


@dataclass(frozen=True, slots=True)
class MovedPass:
    """The pass moved to this phone: its new credential, the ones revoked as `moved` (the
    old phone's), and how many more moves today allows."""

    issued: IssuedCredential
    moves_left: int


async def move_credential(
    uows: UnitOfWorkFactory,
    keys: KeyMaterial,
    account_id: str,
    *,
    by: Actor,
    at: datetime,
    moves_per_day: int = MOVES_PER_DAY,
) -> MovedPass:
    """The rider's "use my pass on this phone": a new credential for the asking phone; every
    live one (the old phone's) revoked as `moved`, denied at gates once they sync; recorded in
    the audit log as the act of `by` (the passenger). At most `moves_per_day` a service day
    (MoveLimitReached): a pass passed around between phones is a pass shared."""

    async def move(uow: UnitOfWork) -> MovedPass:
        account = await uow.riders.get_account(account_id)
        done = await _moves_today(uow, account_id, at)
        if done >= moves_per_day:
            raise MoveLimitReached(
                f"the pass was moved {done} times today, the most a day allows; "
                "it can be moved again after 04:00 (Hanoi time)"
            )
        earlier = await _live_credentials(uow, account_id, at)
        issued = await _issue(uow, keys, account, earlier, MOVED, at)
        await record(
            uow, by, AuditAction.PASS_MOVED, _account_target(account_id),
            before={"credential_ids": [str(c.credential_id) for c in earlier]},
            after={"credential_id": str(issued.record.credential_id)},
        )  # fmt: skip
        return MovedPass(issued, moves_per_day - done - 1)

    return await run_in_uow(uows, move)


class CredentialState(enum.StrEnum):
    """What became of a credential, as its phone is told (`credential_status`)."""

    LIVE = "live"
    MOVED = "moved"  # the pass went to another phone
    LOST = "lost"  # the phone was reported lost
    REVOKED = "revoked"  # any other reason (reissued, refunded, fraud)
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class CredentialStatus:
    """A credential of the account and what became of it, with `moves_left` today."""

    credential_id: int
    state: CredentialState
    changed_at: datetime | None
    valid_until: datetime
    moves_left: int


_STATES = {MOVED: CredentialState.MOVED, LOST_PHONE: CredentialState.LOST}


async def credential_status(
    uows: UnitOfWorkFactory,
    account_id: str,
    credential_id: int,
    *,
    at: datetime,
    moves_per_day: int = MOVES_PER_DAY,
) -> CredentialStatus:
    """Whether the credential a phone holds still works (its phone asks whenever online).
    UnknownRecord for an id that is not one of this account's."""
    async with uows() as uow:
        found = {c.credential_id: c for c in await uow.riders.credentials_for(account_id)}
        moves = await _moves_today(uow, account_id, at)
    credential = found.get(credential_id)
    if credential is None:
        raise UnknownRecord(f"no credential {credential_id} on this account")
    if credential.revoked_at is not None:
        state = _STATES.get(credential.revoke_reason or "", CredentialState.REVOKED)
        changed: datetime | None = credential.revoked_at
    elif credential.valid_until <= at:
        state, changed = CredentialState.EXPIRED, credential.valid_until
    else:
        state, changed = CredentialState.LIVE, None
    return CredentialStatus(
        credential_id, state, changed, credential.valid_until, max(moves_per_day - moves, 0)
    )


@dataclass(frozen=True, slots=True)
class LostPhone:
    """A lost phone reported: the credentials revoked (denied at gates from the deny list's
    `deny_list_version`) and how many sessions (bearer tokens) were ended."""

    revoked: tuple[int, ...]
    sessions_ended: int
    deny_list_version: int


async def report_lost(
    uows: UnitOfWorkFactory, account_id: str, *, by: Actor | None, at: datetime
) -> LostPhone:
    """In one transaction: revoke every credential of the account as lost (on the deny list
    at once) and end every session of the account, the reporting one too, so whoever holds
    the lost phone can neither ride nor take a new pass nor spend. `by`: who reported it
    (the passenger), recorded in the audit log (None: the demo's riders, who have no user).
    The rider then signs in on the new phone, which gets a new credential (none is live any
    more). Reporting with no live credential still ends the sessions."""

    async def report(uow: UnitOfWork) -> LostPhone:
        await uow.riders.get_account(account_id)
        live = await _unrevoked(uow, account_id)
        for lost in live:
            await uow.riders.revoke_credential(lost.credential_id, LOST_PHONE, at=at)
        ended = await uow.users.revoke_tokens_of_account(account_id)
        revoked = tuple(c.credential_id for c in live)
        if by is not None:
            await record(
                uow, by, AuditAction.PHONE_LOST, _account_target(account_id),
                after={"revoked": [str(c) for c in revoked], "sessions_ended": ended},
            )  # fmt: skip
        return LostPhone(revoked, ended, await uow.deny_list.version())

    return await run_in_uow(uows, report)


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
                covered_by(attempt.id, attempt.purpose, attempt.service_day),
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
    daily charge paid later appears as the retry that paid it), VNPay top-ups paid and passes
    bought."""
    async with uows() as uow:
        attempts = await uow.payments.attempts(account_id)
        passes = await uow.riders.passes_for(account_id)
        vnpay = await uow.vnpay.of_account(account_id, limit=limit)
        found = [
            Receipt(
                f"payment:{row.id}",
                row.purpose.value,
                row.updated_at,
                row.amount,
                covered_by(row.id, row.purpose, row.service_day),
            )
            for row in attempts
            if row.status in _PAID
        ]
    found += [
        Receipt(
            f"vnpay:{order.txn_ref}",
            PaymentPurpose.TOP_UP.value,
            order.confirmed_at,
            order.amount,
            PaidFor(PaysFor.TOP_UP, method="vnpay"),
        )
        for order in vnpay
        if order.status is TopUpOrderStatus.PAID and order.confirmed_at is not None
    ]
    found += [
        Receipt(
            f"pass:{bought.id}",
            "pass",
            bought.purchased_at,
            bought.price,
            PaidFor(
                PaysFor.PASS,
                product_id=bought.fare_product_id,
                pass_status=None if bought.status is PassStatus.ACTIVE else bought.status.value,
            ),
        )
        for bought in passes
    ]
    found.sort(key=lambda r: (r.at, r.receipt_id), reverse=True)
    return found[:limit]
