"""What Faregate needs from a card payment gateway, independent of any vendor SDK.

Amounts are plain `int` minor units of ISO 4217 `currency` (VND has no minor unit, so a VND
amount is whole dong). Every object we create carries our idempotency key in its metadata
(`IDEMPOTENCY_METADATA_KEY`), so after a timeout or a lost answer we can find what the gateway
already made instead of making it twice: gateways such as localstripe ignore the
`Idempotency-Key` header, so our correctness must never depend on it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

# Metadata keys we put on gateway objects; the gateway stores them verbatim.
IDEMPOTENCY_METADATA_KEY = "faregate_idempotency_key"
ACCOUNT_METADATA_KEY = "faregate_account"
# What one payment is for (e.g. one account's service day): every retry of it carries the same
# charge key, so reconciliation finds duplicates at the gateway by it.
CHARGE_KEY_METADATA_KEY = "faregate_charge_key"


class PaymentStatus(enum.StrEnum):
    """Where a payment stands; PENDING, REQUIRES_ACTION and REQUIRES_CAPTURE may still move,
    the rest are final. REQUIRES_CAPTURE: authorised (manual capture), no money moved yet; it
    moves only when captured, and a cancelled authorisation never moves any."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_PAYMENT_STATUSES


_FINAL_PAYMENT_STATUSES = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED}
)


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class GatewayCustomer:
    """The gateway's customer record for one of our accounts."""

    id: str
    account_ref: str


@dataclass(frozen=True, slots=True)
class SavedCard:
    """A card payment method attached to a customer, usable for off-session charges."""

    id: str
    customer_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """One payment to create and confirm at once.

    `off_session` is True for the daily aggregated charge (rider not present), False for a
    top-up the rider starts in the app. `capture_manually`: only authorise (the payment stays
    REQUIRES_CAPTURE until `capture_payment`), so a duplicate that reached the gateway late can
    be cancelled without ever moving money.
    """

    customer_id: str
    payment_method_id: str
    amount: int
    currency: str
    idempotency_key: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    off_session: bool = False
    capture_manually: bool = False


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment as the gateway sees it now."""

    id: str
    status: PaymentStatus
    amount: int
    currency: str
    created: datetime
    customer_id: str | None
    payment_method_id: str | None
    idempotency_key: str | None
    metadata: Mapping[str, str]
    amount_refunded: int = 0
    charge_id: str | None = None
    decline_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    payment_id: str | None
    amount: int
    currency: str
    status: RefundStatus
    created: datetime
    idempotency_key: str | None
    metadata: Mapping[str, str]
    # The card charge refunded: a refund made against the charge rather than the payment (e.g.
    # the uncaptured rest of a partial capture) names only this, with `payment_id` None.
    charge_id: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayFee:
    """One fee the gateway took on a balance transaction (processing fee, tax on it...)."""

    amount: int
    currency: str
    type: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One movement of our balance at the gateway: what reconciliation checks fees against.

    `amount` is signed (a refund is negative), `fee` is what the gateway kept and
    `net = amount - fee` what reaches us; `source_id` names the charge or refund behind it.
    """

    id: str
    type: str
    amount: int
    fee: int
    net: int
    currency: str
    created: datetime
    source_id: str | None
    reporting_category: str | None = None
    fees: tuple[GatewayFee, ...] = ()


class _Listed(Protocol):
    @property
    def created(self) -> datetime: ...

    @property
    def id(self) -> str: ...


_ListedT = TypeVar("_ListedT", bound=_Listed)


def oldest_first(objects: Iterable[_ListedT]) -> list[_ListedT]:
    """Gateway objects in the order the listings below give them: oldest first, ties by id."""
    return sorted(objects, key=lambda obj: (obj.created, obj.id))


class Gateway(Protocol):
    """A card payment gateway. Every method may raise a `gateways.errors.GatewayError`.

    Creating methods take our idempotency key: adapters send it to the gateway and also store
    it in the object's metadata, which the `find_*` methods search.
    """

    async def create_customer(
        self, account_ref: str, *, idempotency_key: str, email: str | None = None
    ) -> GatewayCustomer: ...

    async def find_customer(self, account_ref: str) -> GatewayCustomer | None:
        """The customer created for `account_ref`, if any (oldest wins if there are several)."""
        ...

    async def save_card(
        self, customer_id: str, payment_method: str, *, idempotency_key: str
    ) -> SavedCard:
        """Attach a tokenised card (e.g. `pm_card_visa`) to the customer; raises CardDeclined."""
        ...

    async def create_payment(self, request: PaymentRequest) -> Payment:
        """Create and confirm a payment; raises CardDeclined (with `payment_id`) on a decline."""
        ...

    async def retrieve_payment(self, payment_id: str) -> Payment: ...

    async def capture_payment(self, payment_id: str, *, idempotency_key: str) -> Payment:
        """Capture an authorised (REQUIRES_CAPTURE) payment in full: the money moves now."""
        ...

    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> Payment:
        """Cancel (void) a payment not captured yet: no money moves."""
        ...

    async def find_charge_payments(self, charge_key: str) -> list[Payment]:
        """Every payment carrying our charge key (`CHARGE_KEY_METADATA_KEY`), oldest first:
        all the attempts of one logical charge, the late duplicates included."""
        ...

    async def find_payments(self, idempotency_key: str) -> list[Payment]:
        """Every payment carrying our idempotency key, oldest first."""
        ...

    async def refund(
        self,
        payment_id: str,
        *,
        amount: int | None,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> Refund:
        """Refund `amount` minor units of the payment (None: all of it)."""
        ...

    async def find_refunds(self, payment_id: str, idempotency_key: str) -> list[Refund]: ...

    # Listing for reconciliation. Each returns every object created in
    # [created_from, created_until) (both tz-aware; `created_until` None: up to whatever the
    # gateway holds now, by its own clock), oldest first (ties by id), however many pages the
    # gateway needs; a failure on any page raises, never a partial list.

    async def list_payments(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[Payment]:
        """Payments created in the period, whatever their status."""
        ...

    async def list_refunds(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[Refund]:
        """Refunds created in the period, whichever payment they belong to."""
        ...

    async def list_balance_transactions(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[BalanceTransaction] | None:
        """Balance movements (with fees) created in the period; None if the gateway keeps no
        balance ledger, in which case fees are unknown rather than zero."""
        ...

    async def aclose(self) -> None: ...
