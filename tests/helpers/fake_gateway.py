"""An in-memory card gateway for the tests of our payment and settlement flows: the
`gateways.protocol.Gateway` that localstripe behind `StripeGateway` is, without a server.

Faithful to localstripe where our flows can tell (tests/gateways/test_gateway_contract.py runs
the same checks on both, so the two cannot drift apart unseen):

- the test cards: `pm_card_visa` charges, `pm_card_visa_chargeDeclined` is refused when saved,
  `pm_card_chargeCustomerFail` saves and is declined when charged (the payment is made, FAILED,
  and `CardDeclined` names it); each use of a test card's name makes a new payment method;
- payments are made and confirmed at once; `capture_manually` only authorises (REQUIRES_CAPTURE)
  until captured; a payment not captured, or failed, can be cancelled;
- idempotency keys are ignored, as localstripe ignores them: the same request twice makes two
  payments, which `find_payments` then finds by the key in their metadata;
- refunds succeed at once, without checking what is left to refund (nor does localstripe): a
  flow that refunds too much shows in `amount_refunded` rather than in a refusal;
- listings by creation time in [from, until), oldest first, ties by id; times are whole
  seconds of `clock` (real time by default), ids unrelated to the order objects were made in;
- a balance transaction, without fees, for each captured payment (when captured) and each
  refund; amounts and currencies checked as the adapter checks them.

Where localstripe departs from Stripe in a way no flow should rely on, this follows Stripe: a
cancelled authorisation cannot be captured.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from gateways.errors import CardDeclined, GatewayNotFound, GatewayRequestRejected
from gateways.protocol import (
    ACCOUNT_METADATA_KEY,
    CHARGE_KEY_METADATA_KEY,
    IDEMPOTENCY_METADATA_KEY,
    BalanceTransaction,
    GatewayCustomer,
    Payment,
    PaymentRequest,
    PaymentStatus,
    Refund,
    RefundStatus,
    SavedCard,
    oldest_first,
)
from gateways.stripe_amounts import to_stripe_amount

# localstripe's test cards (by their numbers): which are refused when saved, which when charged.
TEST_CARDS: Mapping[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeCustomerFail": "4000000000000341",
}
_REFUSED_WHEN_SAVED = frozenset({"4000000000000002"})
_DECLINED_WHEN_CHARGED = frozenset({"4000000000000341"})
DECLINE_MESSAGE = "Your card was declined."
DECLINE_CODE = "card_declined"


@dataclass(slots=True)
class _Card:
    id: str
    number: str
    customer_id: str | None = None


@dataclass(slots=True)
class _Charge:
    id: str
    amount: int
    currency: str
    paid: bool
    captured: bool
    refunded: int = 0


@dataclass(slots=True)
class _Intent:
    id: str
    created: datetime
    amount: int
    currency: str
    customer_id: str
    payment_method_id: str
    metadata: dict[str, str]
    charge: _Charge
    canceled: bool = False

    @property
    def status(self) -> PaymentStatus:
        if self.canceled:
            return PaymentStatus.CANCELED
        if not self.charge.paid:
            return PaymentStatus.FAILED
        return PaymentStatus.SUCCEEDED if self.charge.captured else PaymentStatus.REQUIRES_CAPTURE

    def payment(self) -> Payment:
        failed = not self.charge.paid
        return Payment(
            id=self.id,
            status=self.status,
            amount=self.amount,
            currency=self.currency,
            created=self.created,
            customer_id=self.customer_id,
            payment_method_id=self.payment_method_id,
            idempotency_key=self.metadata.get(IDEMPOTENCY_METADATA_KEY),
            metadata=dict(self.metadata),
            amount_refunded=self.charge.refunded,
            charge_id=self.charge.id,
            decline_code=DECLINE_CODE if failed else None,
            failure_message=DECLINE_MESSAGE if failed else None,
        )


@dataclass(slots=True)
class _Customer:
    id: str
    created: datetime
    account_ref: str
    metadata: dict[str, str] = field(default_factory=dict)


class FakeGateway:
    """`gateways.protocol.Gateway` in memory (module docstring). `clock`: when objects are
    made, by the gateway's own clock."""

    def __init__(self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._serial = itertools.count(1)
        self._customers: dict[str, _Customer] = {}
        self._cards: dict[str, _Card] = {}
        self._intents: dict[str, _Intent] = {}
        self._refunds: dict[str, Refund] = {}
        self._transactions: list[BalanceTransaction] = []

    async def aclose(self) -> None:
        pass

    # -- customers and cards -----------------------------------------------------------------

    async def create_customer(
        self, account_ref: str, *, idempotency_key: str, email: str | None = None
    ) -> GatewayCustomer:
        customer = _Customer(
            self._new_id("cus_"),
            self._now(),
            account_ref,
            {ACCOUNT_METADATA_KEY: account_ref, IDEMPOTENCY_METADATA_KEY: idempotency_key},
        )
        self._customers[customer.id] = customer
        return GatewayCustomer(customer.id, account_ref)

    async def find_customer(self, account_ref: str) -> GatewayCustomer | None:
        found = [c for c in self._customers.values() if c.account_ref == account_ref]
        if not found:
            return None
        oldest = min(found, key=lambda customer: (customer.created, customer.id))
        return GatewayCustomer(oldest.id, account_ref)

    async def save_card(
        self, customer_id: str, payment_method: str, *, idempotency_key: str
    ) -> SavedCard:
        card = self._card(payment_method)
        self._customer(customer_id)
        if card.number in _REFUSED_WHEN_SAVED:
            raise CardDeclined(DECLINE_MESSAGE, code=DECLINE_CODE)
        card.customer_id = customer_id
        return SavedCard(card.id, customer_id, "visa", card.number[-4:], 12, 2030)

    # -- payments ----------------------------------------------------------------------------

    async def create_payment(self, request: PaymentRequest) -> Payment:
        to_stripe_amount(request.amount, request.currency)  # refused as the adapter refuses
        self._customer(request.customer_id)
        card = self._card(request.payment_method_id)
        declined = card.number in _DECLINED_WHEN_CHARGED
        charge = _Charge(
            self._new_id("ch_"),
            request.amount,
            request.currency.upper(),
            paid=not declined,
            captured=not declined and not request.capture_manually,
        )
        intent = _Intent(
            self._new_id("pi_"),
            self._now(),
            request.amount,
            request.currency.upper(),
            request.customer_id,
            request.payment_method_id,
            {**request.metadata, IDEMPOTENCY_METADATA_KEY: request.idempotency_key},
            charge,
        )
        self._intents[intent.id] = intent
        if declined:
            raise CardDeclined(DECLINE_MESSAGE, code=DECLINE_CODE, payment_id=intent.id)
        if charge.captured:
            self._move(charge.id, "charge", charge.amount, charge.currency)
        return intent.payment()

    async def retrieve_payment(self, payment_id: str) -> Payment:
        return self._intent(payment_id).payment()

    async def capture_payment(self, payment_id: str, *, idempotency_key: str) -> Payment:
        intent = self._intent(payment_id)
        if intent.status is not PaymentStatus.REQUIRES_CAPTURE:
            raise GatewayRequestRejected("Bad request", http_status=400)
        intent.charge.captured = True
        self._move(intent.charge.id, "charge", intent.charge.amount, intent.currency)
        return intent.payment()

    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> Payment:
        intent = self._intent(payment_id)
        if intent.status not in (PaymentStatus.FAILED, PaymentStatus.REQUIRES_CAPTURE):
            raise GatewayRequestRejected("Bad request", http_status=400)
        intent.canceled = True
        return intent.payment()

    async def find_charge_payments(self, charge_key: str) -> list[Payment]:
        return self._payments_where(CHARGE_KEY_METADATA_KEY, charge_key)

    async def find_payments(self, idempotency_key: str) -> list[Payment]:
        return self._payments_where(IDEMPOTENCY_METADATA_KEY, idempotency_key)

    # -- refunds -----------------------------------------------------------------------------

    async def refund(
        self,
        payment_id: str,
        *,
        amount: int | None,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> Refund:
        if amount is not None and (type(amount) is not int or amount <= 0):
            raise GatewayRequestRejected(f"refund amount must be a positive int: {amount!r}")
        intent = self._intent(payment_id)
        if amount is not None:
            to_stripe_amount(amount, intent.currency)
        if not intent.charge.paid:
            raise GatewayRequestRejected("Cannot refund a failed payment.", http_status=400)
        refunded = intent.charge.amount if amount is None else amount
        refund = Refund(
            id=self._new_id("re_"),
            payment_id=intent.id,
            amount=refunded,
            currency=intent.currency,
            status=RefundStatus.SUCCEEDED,
            created=self._now(),
            idempotency_key=idempotency_key,
            metadata={**(metadata or {}), IDEMPOTENCY_METADATA_KEY: idempotency_key},
            charge_id=intent.charge.id,
        )
        self._refunds[refund.id] = refund
        intent.charge.refunded += refunded
        self._move(refund.id, "refund", -refunded, intent.currency)
        return refund

    async def find_refunds(self, payment_id: str, idempotency_key: str) -> list[Refund]:
        charge_id = self._intent(payment_id).charge.id
        return oldest_first(
            r
            for r in self._refunds.values()
            if r.charge_id == charge_id and r.idempotency_key == idempotency_key
        )

    # -- listing for reconciliation ---------------------------------------------------------

    async def list_payments(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[Payment]:
        return _in_period(
            (i.payment() for i in self._intents.values()), created_from, created_until
        )

    async def list_refunds(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[Refund]:
        return _in_period(self._refunds.values(), created_from, created_until)

    async def list_balance_transactions(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[BalanceTransaction]:
        return _in_period(self._transactions, created_from, created_until)

    # -- plumbing ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        """The gateway's clock in whole seconds, as Stripe stamps objects."""
        return datetime.fromtimestamp(int(self._clock().timestamp()), tz=UTC)

    def _new_id(self, prefix: str) -> str:
        """An id the same every run, whose order says nothing of when its object was made."""
        digest = hashlib.sha256(str(next(self._serial)).encode()).hexdigest()
        return prefix + digest[:14]

    def _customer(self, customer_id: str) -> _Customer:
        try:
            return self._customers[customer_id]
        except KeyError:
            raise GatewayNotFound(f"no customer {customer_id}", http_status=404) from None

    def _card(self, payment_method: str) -> _Card:
        if payment_method in TEST_CARDS:
            card = _Card(self._new_id("pm_"), TEST_CARDS[payment_method])
            self._cards[card.id] = card
            return card
        try:
            return self._cards[payment_method]
        except KeyError:
            raise GatewayNotFound(f"no payment method {payment_method}", http_status=404) from None

    def _intent(self, payment_id: str) -> _Intent:
        try:
            return self._intents[payment_id]
        except KeyError:
            raise GatewayNotFound(f"no payment {payment_id}", http_status=404) from None

    def _payments_where(self, key: str, value: str) -> list[Payment]:
        return oldest_first(
            i.payment() for i in self._intents.values() if i.metadata.get(key) == value
        )

    def _move(self, source_id: str, kind: str, amount: int, currency: str) -> None:
        self._transactions.append(
            BalanceTransaction(
                id=self._new_id("txn_"),
                type=kind,
                amount=amount,
                fee=0,
                net=amount,
                currency=currency,
                created=self._now(),
                source_id=source_id,
                reporting_category=kind,
            )
        )


_ListedT = TypeVar("_ListedT", Payment, Refund, BalanceTransaction)


def _in_period(
    objects: Iterable[_ListedT], created_from: datetime, created_until: datetime | None
) -> list[_ListedT]:
    if created_from.tzinfo is None or (created_until is not None and created_until.tzinfo is None):
        raise GatewayRequestRejected("listing periods must be timezone-aware")
    return oldest_first(
        o
        for o in objects
        if created_from <= o.created and (created_until is None or o.created < created_until)
    )
