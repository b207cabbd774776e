"""Passenger API: a rider's own account, over a bearer token of a passenger user.

- `POST /api/v1/passengers`: register (a phone number or e-mail address as the username, a
  password, a display name in any script, prepaid wallet or postpaid card): a rider account
  and its passenger user, in one transaction. Then sign in with `POST /api/v1/sessions` and
  sign out with `DELETE /api/v1/sessions/current` (session routes).
- `POST /api/v1/passengers/password-reset`: send a one-time code to the rider's phone or
  address (through the outbox); `.../password-reset/confirm`: the code and a new password
  (every session ends). ticketing.services.password_reset.
- `GET /api/v1/passenger/account`: balance (or what a postpaid account owes), payment mode,
  standing, saved card.
- `POST /api/v1/passenger/card`: save a tokenised card (the gateway's payment method id).
- `POST /api/v1/passenger/top-ups`: charge the saved card and credit the wallet, once per
  `request_id` (a retry with the same id returns the same payment).
- `POST /api/v1/passenger/passes`: buy a pass of the fare feed.
- `POST /api/v1/passenger/credential`: the phone credential document (signed credential and
  TOTP seed, TOKEN-SPEC §7) for the account's first phone, answered `Cache-Control: no-store`.
  While a credential is live (the pass is on a phone) it is a 409 `pass-on-another-phone` and
  nothing changes: signing in elsewhere to read the account never takes the pass away.
- `POST /api/v1/passenger/credential/move`: "use my pass on this phone": a new credential for
  this phone; the old phone's is revoked (`moved`) and denied at gates. A few a day (429
  `move-limit`), each in the audit log.
- `GET /api/v1/passenger/credentials/{credential_id}`: what became of a credential (live,
  moved, lost, revoked, expired) and the server's time: the phone asks whenever it is online,
  learns that its pass was moved, and keeps the offset of its clock to the server's.
- `GET /api/v1/passenger/passes`: the catalogue on sale and the passes held;
  `POST /api/v1/passenger/passes/renewals`: a held pass's next period.
- `GET /api/v1/passenger/trips?before=&days=`: trips by service day, newest day first, with
  each day's total and caps; `/charges`, `/receipts`: newest first.
- `POST /api/v1/passenger/lost-phone`: revoke and deny every live credential and end every
  session of the account (this one too); the rider signs in again on the new phone.

Ids that can exceed 2**53 (credential ids, the pass number) are JSON strings of decimal
digits: a JavaScript `Number` would round them.

Every route acts on the account of the token's user (`call.user.account_id`); no route takes
an account id, so a passenger can only ever see and change their own account.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

import msgspec
from aiohttp import web

from faregate import i18n
from faregate.api.context import CONFIG, PAYMENTS, PRICING_FEED, UOWS
from faregate.api.error_table import ProblemType
from faregate.api.errors import Problem
from faregate.api.problems import rider_language
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.outbox_runtime import open_outbox
from gateways.errors import GatewayRequestRejected
from qr.errors import QRError
from qr.issue import PhoneCredential
from qr.keys import KeyMaterial, load_keys
from ticketing.audit import Actor
from ticketing.errors import UnknownRecord
from ticketing.fares.errors import FareError
from ticketing.fares.feed import FareFeed
from ticketing.money import Money
from ticketing.payments.model import AttemptStatus, PaymentPurpose
from ticketing.riders import AccountStatus, PaymentMode
from ticketing.services import passengers, password_reset, rider_passes, trip_days
from ticketing.services.riders import PassSale, buy_pass
from ticketing.users import MAX_DISPLAY_NAME, MAX_PASSWORD

routes = RouteRegistry()

MAX_TOP_UP = 10_000_000  # minor units, one top-up
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASSWORD)]
RequestId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ProductId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
PaymentMethodId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]{1,100}$")]


class Amount(msgspec.Struct, kw_only=True):
    """Money in minor units of `currency` (VND has none: 15000 is 15,000 dong)."""

    amount: int
    currency: str

    @classmethod
    def of(cls, money: Money) -> Amount:
        return cls(amount=money.amount, currency=money.currency)


DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DISPLAY_NAME * 4)]
Login = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class RegisterRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`username`: a phone number (a Vietnamese one as it is written, `0912 345 678`, or with
    its country code) or an e-mail address, stored as E.164 or in lower case; a plain name
    still works for API clients. `display_name`: the rider's name in any script."""

    username: Login
    password: Password
    display_name: DisplayName | None = None
    payment_mode: PaymentMode = PaymentMode.PREPAID_WALLET


class PassengerDocument(msgspec.Struct, kw_only=True):
    username: str
    account_id: str
    payment_mode: PaymentMode
    display_name: str | None


class ResetRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Login


class ResetRequested(msgspec.Struct, kw_only=True):
    """The same answer whether anyone signs in with that phone or address (nothing tells who
    has an account): a code goes out when someone does, and not too often."""

    requested: bool


class ResetConfirmRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Login
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    password: Password


class ResetDone(msgspec.Struct, kw_only=True):
    """The password is changed and every session of the rider has ended: sign in again."""

    reset: bool


class AccountDocument(msgspec.Struct, kw_only=True):
    """`balance`: the wallet's money (prepaid); `owed`: fares not yet paid (postpaid, or a
    prepaid wallet below zero). `standing` is `active` or `debt_recovery`."""

    account_id: str
    username: str
    display_name: str | None
    payment_mode: PaymentMode
    rider_category: str
    standing: AccountStatus
    balance: Amount
    owed: Amount
    card_saved: bool
    card_last4: str | None
    live_credentials: int


class CardRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    payment_method: PaymentMethodId


class CardDocument(msgspec.Struct, kw_only=True):
    payment_method: str


class TopUpRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`request_id` makes the top-up safe to retry: the same id is the same payment."""

    amount: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOP_UP)]
    request_id: RequestId


class PaymentDocument(msgspec.Struct, kw_only=True):
    attempt_id: str
    status: AttemptStatus
    amount: Amount
    decline_code: str | None


class PassRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    product_id: ProductId


class PassDocument(msgspec.Struct, kw_only=True):
    pass_id: str
    product_id: str
    valid_from: datetime
    valid_until: datetime
    price: Amount


class RenewalRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # No control characters: no pass id has one, and a NUL was a 500 on PostgreSQL (text
    # cannot hold it) where SQLite answered 404.
    pass_id: Annotated[
        str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    ]


class CatalogueEntryDocument(msgspec.Struct, kw_only=True):
    """A pass on sale to this rider: `kind` `day` or `month`, the validity a purchase now has."""

    product_id: str
    name: str
    kind: str
    price: Amount
    valid_from: datetime
    valid_until: datetime


class HeldPassDocument(msgspec.Struct, kw_only=True):
    """A pass bought: `status` `active`, `refunded` or `cancelled`; `current` while it covers
    now (a renewal bought ahead is active but not yet current)."""

    pass_id: str
    product_id: str
    name: str
    kind: str | None
    status: str
    current: bool
    valid_from: datetime
    valid_until: datetime
    price: Amount


class PassesDocument(msgspec.Struct, kw_only=True):
    catalogue: list[CatalogueEntryDocument]
    passes: list[HeldPassDocument]


class CredentialDocument(msgspec.Struct, kw_only=True):
    """The phone credential file (docs/TOKEN-SPEC.md §7): keep `seed` secret; the page or app
    computes each period's code from it, offline."""

    format: str
    credential: str
    seed: str
    period: int
    digits: int
    credential_id: str  # decimal digits: ids reach 2**63
    product: str
    category: str
    valid_from: str
    valid_until: str
    replaced: list[str]

    @classmethod
    def of(cls, phone: PhoneCredential, replaced: tuple[int, ...]) -> CredentialDocument:
        doc = phone.to_json()
        doc["credential_id"] = str(doc["credential_id"])
        return msgspec.convert({**doc, "replaced": [str(c) for c in replaced]}, cls)


class MovedDocument(msgspec.Struct, kw_only=True):
    """The pass moved to this phone: `credential` (this phone's), `moved_from` (the old
    phone's credential ids, now refused at gates) and the moves today still allows."""

    credential: CredentialDocument
    moved_from: list[str]
    moves_left_today: int


class CredentialStatusDocument(msgspec.Struct, kw_only=True):
    """`status`: `live`, `moved` (to another phone), `lost` (reported lost), `revoked` or
    `expired`, since `changed_at`. `server_time` is the server's clock now: the phone keeps its
    own clock's offset to it and shows codes by the server's time."""

    credential_id: str
    status: passengers.CredentialState
    changed_at: datetime | None
    valid_until: datetime
    moves_left_today: int
    server_time: datetime


class TripDocument(msgspec.Struct, kw_only=True):
    """One leg; the names come from the fare feed (None for an id the feed lacks).
    `ride`: `complete`, `tap_on_only` (a bus ride: no tap-off needed), `no_entry` (an exit
    with no entry: `from_stop_id` is None), `no_exit` (an entry with no exit) or `over_time`
    (longer than the network allows); the last three were charged the line's longest fare.
    `pass_product_id`/`pass_name`: the pass that covered it."""

    service_day: date
    started_at: datetime
    ended_at: datetime | None
    route_id: str
    route_name: str | None
    network_id: str | None
    operator_id: str
    from_stop_id: str | None
    from_stop_name: str | None
    to_stop_id: str | None
    to_stop_name: str | None
    fare: Amount
    undiscounted: Amount
    fare_product_id: str | None
    pass_covered: bool
    pass_product_id: str | None
    pass_name: str | None
    capped: bool
    incomplete: bool
    transfer: bool
    ride: trip_days.RideShape


class CapProgressDocument(msgspec.Struct, kw_only=True):
    """The fares counted toward a cap: `spent` of `cap` in its `period` (`day`, or `month` to
    this day); `reached` once the cap stops further fares."""

    cap_id: str
    network_id: str | None
    network_name: str | None
    period: str
    spent: Amount
    cap: Amount
    reached: bool


class TripDayDocument(msgspec.Struct, kw_only=True):
    service_day: date
    total: Amount
    caps: list[CapProgressDocument]
    trips: list[TripDocument]


class TripPageDocument(msgspec.Struct, kw_only=True):
    """Service days newest first; `next_before`: ask again with `before` set to it for older
    days (None: no more)."""

    days: list[TripDayDocument]
    next_before: date | None


class TripQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    before: date | None = None
    days: Annotated[int, msgspec.Meta(ge=1, le=trip_days.MAX_DAYS_PER_PAGE)] = (
        trip_days.DAYS_PER_PAGE
    )


class PaidForDocument(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a payment pays for, for the page to name in the rider's language: `kind`
    `top_up` (with `method` `card` or `vnpay`), `fares` or `fares_adjustment` (a day's taps
    that arrived after it was charged) or `parking` (with `service_day`), or `pass` (with
    `product_id`, and `pass_status` `refunded` or `cancelled` once no longer active)."""

    kind: passengers.PaysFor
    service_day: date | None = None
    product_id: str | None = None
    pass_status: str | None = None
    method: str | None = None

    @classmethod
    def of(cls, paid: passengers.PaidFor) -> PaidForDocument:
        return cls(
            kind=paid.kind, service_day=paid.service_day, product_id=paid.product_id,
            pass_status=paid.pass_status, method=paid.method,
        )  # fmt: skip


class ChargeDocument(msgspec.Struct, kw_only=True):
    """`covers` names what it pays for in English; `paid_for` is the same in parts."""

    attempt_id: str
    purpose: PaymentPurpose
    service_day: date | None
    amount: Amount
    status: AttemptStatus
    decline_code: str | None
    created_at: datetime
    covers: str  # what it pays for: "Fares of Sat 5 Dec 2026", that day's adjustment, a pass
    paid_for: PaidForDocument


class ChargeList(msgspec.Struct, kw_only=True):
    charges: list[ChargeDocument]


class ReceiptDocument(msgspec.Struct, kw_only=True):
    """`description` names what was paid for in English; `paid_for` is the same in parts."""

    receipt_id: str
    kind: str  # "top_up", "daily_charge" or "pass"
    at: datetime
    amount: Amount
    description: str  # "Pass m2a_day", "Wallet top-up by VNPay", "Fares of Sat 5 Dec 2026"
    paid_for: PaidForDocument


class ReceiptList(msgspec.Struct, kw_only=True):
    receipts: list[ReceiptDocument]


class LostPhoneDocument(msgspec.Struct, kw_only=True):
    """`revoked`: the credential ids refused at gates from `deny_list_version`; every session
    of the account (`sessions_ended` bearer tokens, this request's too) has ended."""

    revoked: list[str]
    deny_list_version: int
    sessions_ended: int


def _account_id(call: Call) -> str:
    account_id = call.user.account_id
    if account_id is None:  # check_user makes every passenger user have one
        raise Problem(403, "forbidden", "Forbidden", "this user has no rider account")
    return account_id


def _no_store(document: msgspec.Struct) -> web.Response:
    """A JSON answer no cache keeps (it holds a credential's seed)."""
    return web.Response(
        body=msgspec.json.encode(document),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def _keys(call: Call) -> KeyMaterial:
    try:
        return await asyncio.to_thread(load_keys, call.app[CONFIG].keys_dir)
    except (OSError, QRError) as error:
        raise Problem(
            503, "keys-unavailable", "Service Unavailable", "the issuer keys cannot be read"
        ) from error


# Refusals of these routes that differ from the error table's (faregate/api/error_table.py).
ACCOUNT_NOT_OPEN = ProblemType(
    403, "forbidden", "Forbidden", "this user's rider account is not open"
)
PAYMENT_METHOD = ProblemType(
    422, "payment-method", "Invalid payment method",
    "the payment gateway refused this payment method (unknown or unusable)",
)  # fmt: skip
NOT_A_PASS = ProblemType(409, "pass-not-sold", "Conflict")


@routes.route(
    "POST", "/api/v1/passengers", summary="Register a passenger", tag="passenger",
    body=RegisterRequest, response=PassengerDocument, errors=[409],
)  # fmt: skip
async def register_passenger(call: Call) -> PassengerDocument:
    request = call.body_as(RegisterRequest)
    app = call.app
    registered = await passengers.register_passenger(
        app[UOWS],
        request.username,
        request.password,
        payment_mode=request.payment_mode,
        display_name=request.display_name,
        at=app[CONFIG].clock(),
        cost=app[CONFIG].settings.password_cost,
    )
    return PassengerDocument(
        username=registered.user.username,
        account_id=registered.account.id,
        payment_mode=registered.account.payment_mode,
        display_name=registered.user.display_name,
    )


@routes.route(
    "POST", "/api/v1/passengers/password-reset", summary="Send a code to reset my password",
    tag="passenger", body=ResetRequest, response=ResetRequested,
)  # fmt: skip
async def request_password_reset(call: Call) -> ResetRequested:
    request = call.body_as(ResetRequest)
    outbox = open_outbox(call.app[CONFIG].settings)
    await password_reset.request_reset(call.app[UOWS], outbox, request.username)
    return ResetRequested(requested=True)


@routes.route(
    "POST", "/api/v1/passengers/password-reset/confirm",
    summary="Set a new password with the code", tag="passenger",
    body=ResetConfirmRequest, response=ResetDone, errors=[422],
)  # fmt: skip
async def confirm_password_reset(call: Call) -> ResetDone:
    request = call.body_as(ResetConfirmRequest)
    await password_reset.confirm_reset(
        call.app[UOWS], request.username, request.code, request.password,
        cost=call.app[CONFIG].settings.password_cost,
    )  # fmt: skip
    return ResetDone(reset=True)


@routes.route(
    "GET", "/api/v1/passenger/account", summary="My balance, payment mode and standing",
    tag="passenger", auth=Auth.PASSENGER, response=AccountDocument,
    problems={UnknownRecord: ACCOUNT_NOT_OPEN},  # a passenger user made without its account
)  # fmt: skip
async def get_account(call: Call) -> AccountDocument:
    overview = await passengers.account_overview(call.app[UOWS], _account_id(call))
    account = overview.account
    return AccountDocument(
        account_id=account.id,
        username=call.user.username,
        display_name=call.user.display_name,
        payment_mode=account.payment_mode,
        rider_category=account.rider_category,
        standing=account.status,
        balance=Amount.of(overview.balance),
        owed=Amount.of(overview.owed),
        card_saved=overview.has_card,
        card_last4=overview.card_last4,
        live_credentials=overview.live_credentials,
    )


@routes.route(
    "POST", "/api/v1/passenger/card", summary="Save the card charged from now on",
    tag="passenger", auth=Auth.PASSENGER, body=CardRequest, response=CardDocument,
    errors=[402, 502],
    # e.g. a payment method the gateway does not know (GatewayAuthError, our credentials and
    # not the passenger's doing, stays the table's 502)
    problems={GatewayRequestRejected: PAYMENT_METHOD},
)  # fmt: skip
async def save_card(call: Call) -> CardDocument:
    request = call.body_as(CardRequest)
    card = await call.app[PAYMENTS].save_card(_account_id(call), request.payment_method)
    return CardDocument(payment_method=card)


@routes.route(
    "POST", "/api/v1/passenger/top-ups", summary="Top up the wallet from the saved card",
    tag="passenger", auth=Auth.PASSENGER, body=TopUpRequest, response=PaymentDocument,
    errors=[409, 502],
)  # fmt: skip
async def top_up(call: Call) -> PaymentDocument:
    request = call.body_as(TopUpRequest)
    uows, account_id = call.app[UOWS], _account_id(call)
    overview = await passengers.account_overview(uows, account_id)
    amount = Money(request.amount, overview.account.currency)
    outcome = await call.app[PAYMENTS].top_up(account_id, amount, request_id=request.request_id)
    return PaymentDocument(
        attempt_id=outcome.attempt_id,
        status=outcome.status,
        amount=Amount.of(outcome.amount),
        decline_code=outcome.decline_code,
    )


@routes.route(
    "POST", "/api/v1/passenger/passes", summary="Buy a pass", tag="passenger",
    auth=Auth.PASSENGER, body=PassRequest, response=PassDocument, errors=[402, 409, 502],
    problems={UnknownRecord: NOT_A_PASS, FareError: NOT_A_PASS},  # a product, not a pass
)  # fmt: skip
async def buy_a_pass(call: Call) -> PassDocument:
    request = call.body_as(PassRequest)
    feed = call.app[PRICING_FEED]
    sale = await buy_pass(
        call.app[UOWS], feed, _account_id(call), request.product_id,
        at=call.app[CONFIG].clock(), payments=call.app[PAYMENTS],
    )  # fmt: skip
    return _sold(sale)


def _sold(sale: PassSale) -> PassDocument:
    return PassDocument(
        pass_id=sale.pass_id,
        product_id=sale.product_id,
        valid_from=sale.valid_from,
        valid_until=sale.valid_until,
        price=Amount.of(sale.price),
    )


@routes.route(
    "GET", "/api/v1/passenger/passes",
    summary="The passes on sale to me (price, validity) and the passes I hold",
    tag="passenger", auth=Auth.PASSENGER, response=PassesDocument,
    problems={UnknownRecord: ACCOUNT_NOT_OPEN},
)  # fmt: skip
async def list_passes(call: Call) -> PassesDocument:
    uows, account_id = call.app[UOWS], _account_id(call)
    feed, at = call.app[PRICING_FEED], call.app[CONFIG].clock()
    overview = await passengers.account_overview(uows, account_id)
    held = await rider_passes.held_passes(uows, feed, account_id, at)
    return PassesDocument(
        catalogue=[
            CatalogueEntryDocument(
                product_id=entry.product_id,
                name=_pass_name(call, feed, entry.product_id),
                kind=entry.kind.value,
                price=Amount.of(entry.price),
                valid_from=entry.valid_from,
                valid_until=entry.valid_until,
            )
            for entry in rider_passes.pass_catalogue(feed, overview.account.rider_category, at)
        ],
        passes=[
            HeldPassDocument(
                pass_id=h.record.id,
                product_id=h.record.fare_product_id,
                name=_pass_name(call, feed, h.record.fare_product_id),
                kind=None if h.kind is None else h.kind.value,
                status=h.record.status.value,
                current=h.current,
                valid_from=h.record.valid_from,
                valid_until=h.record.valid_until,
                price=Amount.of(h.record.price),
            )
            for h in held
        ],
    )


@routes.route(
    "POST", "/api/v1/passenger/passes/renewals",
    summary="Renew a pass I hold for its next period", tag="passenger",
    auth=Auth.PASSENGER, body=RenewalRequest, response=PassDocument, errors=[402, 404, 409, 502],
    problems={FareError: NOT_A_PASS},
)  # fmt: skip
async def renew_a_pass(call: Call) -> PassDocument:
    request = call.body_as(RenewalRequest)
    sale = await rider_passes.renew_pass(
        call.app[UOWS], call.app[PRICING_FEED], _account_id(call), request.pass_id,
        at=call.app[CONFIG].clock(), payments=call.app[PAYMENTS],
    )  # fmt: skip
    return _sold(sale)


@routes.route(
    "POST", "/api/v1/passenger/credential",
    summary="The first phone's credential (409 while the pass is on a phone)",
    tag="passenger", auth=Auth.PASSENGER, response=CredentialDocument, errors=[409, 503],
)  # fmt: skip
async def fetch_credential(call: Call) -> web.Response:
    keys = await _keys(call)
    issued = await passengers.fetch_credential(
        call.app[UOWS], keys, _account_id(call), at=call.app[CONFIG].clock()
    )
    return _no_store(CredentialDocument.of(issued.phone, issued.revoked))


@routes.route(
    "POST", "/api/v1/passenger/credential/move",
    summary="Use my pass on this phone (the old phone's code stops working)",
    tag="passenger", auth=Auth.PASSENGER, response=MovedDocument, errors=[429, 503],
)  # fmt: skip
async def move_credential(call: Call) -> web.Response:
    keys = await _keys(call)
    moved = await passengers.move_credential(
        call.app[UOWS], keys, _account_id(call), by=Actor.of(call.user),
        at=call.app[CONFIG].clock(),
    )  # fmt: skip
    issued = moved.issued
    return _no_store(
        MovedDocument(
            credential=CredentialDocument.of(issued.phone, issued.revoked),
            moved_from=[str(c) for c in issued.revoked],
            moves_left_today=moved.moves_left,
        )
    )


MAX_CREDENTIAL_ID = 2**64 - 1
CREDENTIAL_PARAMETER = {
    "name": "credential_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"},
}


def _credential_id(call: Call) -> int:
    """The credential id in the path: decimal digits naming a 64-bit id, else 404."""
    text = call.request.match_info["credential_id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 20) or (
        int(text) > MAX_CREDENTIAL_ID
    ):
        raise Problem(404, "unknown-record", "Not Found", f"{text[:40]!r} is not a credential id")
    return int(text)


@routes.route(
    "GET", "/api/v1/passenger/credentials/{credential_id}",
    summary="What became of my phone's credential, and the server's time",
    tag="passenger", auth=Auth.PASSENGER, response=CredentialStatusDocument, errors=[404],
    parameters=[CREDENTIAL_PARAMETER],
)  # fmt: skip
async def credential_status(call: Call) -> web.Response:
    credential_id = _credential_id(call)
    clock = call.app[CONFIG].clock
    status = await passengers.credential_status(
        call.app[UOWS], _account_id(call), credential_id, at=clock()
    )
    return _no_store(
        CredentialStatusDocument(
            credential_id=str(status.credential_id),
            status=status.state,
            changed_at=status.changed_at,
            valid_until=status.valid_until,
            moves_left_today=status.moves_left,
            server_time=clock(),  # read last: the closest to when the phone gets the answer
        )
    )


def _route_name(feed: FareFeed, route_id: str) -> str | None:
    route = feed.gtfs.routes.get(route_id)
    return None if route is None else (route.short_name or route.long_name or None)


def _stop_name(feed: FareFeed, stop_id: str | None) -> str | None:
    stop = None if stop_id is None else feed.gtfs.stops.get(stop_id)
    return None if stop is None else stop.name or None


def _pass_name(call: Call, feed: FareFeed, product_id: str) -> str:
    """A pass product's name in the rider's language (`Accept-Language`, Vietnamese first):
    the feed's English name through the catalogue, which scripts/messages fills with the name
    of every pass of the feeds shipped in data/."""
    language = rider_language(call.request) or i18n.DEFAULT_LANGUAGE
    return i18n.gettext(language, rider_passes.product_label(feed, product_id))


def _trip(trip: trip_days.Trip, feed: FareFeed, call: Call) -> TripDocument:
    return TripDocument(
        service_day=trip.service_day,
        started_at=trip.started_at,
        ended_at=trip.ended_at,
        route_id=trip.route_id,
        route_name=_route_name(feed, trip.route_id),
        network_id=trip.network_id,
        operator_id=trip.operator_id,
        from_stop_id=trip.from_stop_id,
        from_stop_name=_stop_name(feed, trip.from_stop_id),
        to_stop_id=trip.to_stop_id,
        to_stop_name=_stop_name(feed, trip.to_stop_id),
        fare=Amount.of(trip.fare),
        undiscounted=Amount.of(trip.undiscounted),
        fare_product_id=trip.fare_product_id,
        pass_covered=trip.pass_covered,
        pass_product_id=trip.pass_product_id,
        pass_name=None
        if trip.pass_product_id is None
        else _pass_name(call, feed, trip.pass_product_id),
        capped=trip.capped,
        incomplete=trip.shape
        not in (trip_days.RideShape.COMPLETE, trip_days.RideShape.TAP_ON_ONLY),
        transfer=trip.transfer,
        ride=trip.shape,
    )


def _cap(progress: trip_days.CapProgress) -> CapProgressDocument:
    return CapProgressDocument(
        cap_id=progress.cap_id,
        network_id=progress.network_id,
        network_name=progress.network_name,
        period=progress.period.value,
        spent=Amount.of(progress.spent),
        cap=Amount.of(progress.cap),
        reached=progress.reached,
    )


@routes.route(
    "GET", "/api/v1/passenger/trips",
    summary="My trips by service day (newest first), with each day's total and caps",
    tag="passenger", auth=Auth.PASSENGER, query=TripQuery, response=TripPageDocument,
    problems={UnknownRecord: ACCOUNT_NOT_OPEN},
)  # fmt: skip
async def list_trips(call: Call) -> TripPageDocument:
    query = call.query_as(TripQuery)
    feed = call.app[PRICING_FEED]
    page = await trip_days.trip_days(
        call.app[UOWS], feed, _account_id(call), before=query.before, days=query.days
    )
    return TripPageDocument(
        days=[
            TripDayDocument(
                service_day=day.service_day,
                total=Amount.of(day.total),
                caps=[_cap(c) for c in day.caps],
                trips=[_trip(t, feed, call) for t in day.trips],
            )
            for day in page.days
        ],
        next_before=page.next_before,
    )


@routes.route(
    "GET", "/api/v1/passenger/charges", summary="Payments asked of my card, newest first",
    tag="passenger", auth=Auth.PASSENGER, response=ChargeList,
)  # fmt: skip
async def list_charges(call: Call) -> ChargeList:
    found = await passengers.charges(call.app[UOWS], _account_id(call))
    return ChargeList(
        charges=[
            ChargeDocument(
                attempt_id=c.attempt_id,
                purpose=c.purpose,
                service_day=c.service_day,
                amount=Amount.of(c.amount),
                status=c.status,
                decline_code=c.decline_code,
                created_at=c.created_at,
                covers=c.covers,
                paid_for=PaidForDocument.of(c.paid_for),
            )
            for c in found
        ]
    )


@routes.route(
    "GET", "/api/v1/passenger/receipts", summary="What I paid, newest first",
    tag="passenger", auth=Auth.PASSENGER, response=ReceiptList,
)  # fmt: skip
async def list_receipts(call: Call) -> ReceiptList:
    found = await passengers.receipts(call.app[UOWS], _account_id(call))
    return ReceiptList(
        receipts=[
            ReceiptDocument(
                receipt_id=r.receipt_id,
                kind=r.kind,
                at=r.at,
                amount=Amount.of(r.amount),
                description=r.description,
                paid_for=PaidForDocument.of(r.paid_for),
            )
            for r in found
        ]
    )


@routes.route(
    "POST", "/api/v1/passenger/lost-phone",
    summary="Report a lost phone: revoke the pass and end every session",
    tag="passenger", auth=Auth.PASSENGER, response=LostPhoneDocument,
)  # fmt: skip
async def report_lost_phone(call: Call) -> web.Response:
    lost = await passengers.report_lost(
        call.app[UOWS], _account_id(call), by=Actor.of(call.user),
        at=call.app[CONFIG].clock(),
    )  # fmt: skip
    return _no_store(
        LostPhoneDocument(
            revoked=[str(c) for c in lost.revoked],
            deny_list_version=lost.deny_list_version,
            sessions_ended=lost.sessions_ended,
        )
    )
