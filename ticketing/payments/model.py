"""Payments as plain values: what a payment is for, where an attempt or a refund stands, and
`advance`, the one function that moves an attempt forward.

No I/O here: the flows (`ticketing.payment_flows.attempts`, `refunds`, `debt`) read values from the
store, ask `advance` what an event makes of them, and write the result back.

An attempt's status moves forward only:

    pending ──┬─> unknown ──┬─> succeeded
              │             └─> failed ──> recovered
              ├─> succeeded
              └─> failed

`unknown` (no definite answer: a lost call, a payment still processing) may repeat; a final
status (`succeeded`, `failed`, `recovered`) takes no answer from the gateway any more, so the
call's answer, a retry and a webhook can arrive in any order and post once. Only a declined
daily charge moves on, to `recovered`, once a retry or the wallet paid the day.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime

from gateways.protocol import Payment, PaymentStatus, Refund, RefundStatus
from ticketing.money import Money
from ticketing.payments.errors import GatewayMismatch


class PaymentPurpose(enum.StrEnum):
    TOP_UP = "top_up"  # rider adds money to the prepaid wallet
    DAILY_CHARGE = "daily_charge"  # one aggregated off-session charge per postpaid account-day
    PASS_PURCHASE = "pass_purchase"  # a pass bought by a postpaid rider, paid at purchase


def daily_charge_key(account_id: str, day: date) -> str:
    """The logical charge of an account's service day: exactly that day's fares (the part its
    receivable pays), shared by its first attempt and its retries (the first attempt's
    idempotency key)."""
    return f"charge:{account_id}:{day.isoformat()}"


def adjustment_charge_key(account_id: str, day: date, version: int) -> str:
    """The charge of a service day's later taps, once the day was charged: the difference its
    version `version` makes, charged as that day's adjustment."""
    return f"{daily_charge_key(account_id, day)}:adjustment-v{version}"


def parking_charge_key(account_id: str, day: date) -> str:
    """The charge of a service day's parking fees and parking debts on the receivable: a line
    of its own, never folded into the day's fares."""
    return f"{daily_charge_key(account_id, day)}:parking"


def pass_purchase_key(pass_id: str) -> str:
    """The card payment of a pass bought by a postpaid rider."""
    return f"pass:{pass_id}"


class AttemptStatus(enum.StrEnum):
    PENDING = "pending"  # stored; the gateway call has not given a definite answer yet
    UNKNOWN = "unknown"  # the last call ended without knowing what the gateway did
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # declined: for a daily charge, the account owes the amount
    RECOVERED = "recovered"  # a failed daily charge later paid by a retry or from a top-up

    @property
    def is_final(self) -> bool:
        """No answer from the gateway changes it any more."""
        return self not in OPEN_ATTEMPT


OPEN_ATTEMPT = (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)


class RefundRecordStatus(enum.StrEnum):
    PENDING = "pending"
    UNKNOWN = "unknown"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


OPEN_REFUND = (RefundRecordStatus.PENDING, RefundRecordStatus.UNKNOWN)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentAttempt:
    """One payment we asked the gateway for; `id` is the idempotency key it carries.
    `charge_key` names the logical charge (`charge:{account}:{day}`) a daily charge and its
    retries share."""

    id: str
    purpose: PaymentPurpose
    account_id: str
    amount: Money
    created_at: datetime
    updated_at: datetime  # as last stored (the store stamps each write)
    status: AttemptStatus = AttemptStatus.PENDING
    service_day: date | None = None
    charge_key: str | None = None
    gateway_payment_id: str | None = None
    decline_code: str | None = None
    posting_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentRefund:
    """A refund of (part of) a succeeded attempt; `id` is the idempotency key it carries."""

    id: str
    attempt_id: str
    amount: Money
    status: RefundRecordStatus = RefundRecordStatus.PENDING
    gateway_refund_id: str | None = None
    posting_id: str | None = None


# --- what can happen to an attempt ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unanswered:
    """The call ended without a definite answer, or the payment is still processing at the
    gateway (`gateway_payment_id`: the payment, if the gateway named one)."""

    gateway_payment_id: str | None = None


@dataclass(frozen=True, slots=True)
class Authorised:
    """A daily charge's authorisation (manual capture) to record before capturing it: from
    then on it is the only one of the attempt ever captured."""

    gateway_payment_id: str


@dataclass(frozen=True, slots=True)
class Declined:
    gateway_payment_id: str | None
    decline_code: str


@dataclass(frozen=True, slots=True)
class Paid:
    """The gateway took the money, and the ledger posting `posting_id` records it."""

    gateway_payment_id: str
    posting_id: str


@dataclass(frozen=True, slots=True)
class Recovered:
    """A declined daily charge paid since (by a retry, or from the wallet)."""


AttemptEvent = Unanswered | Authorised | Declined | Paid | Recovered

# The transition table: which status each event leads to from each status. A pair not listed
# is refused (`advance` leaves the attempt as it is).
TRANSITIONS: dict[tuple[AttemptStatus, type[AttemptEvent]], AttemptStatus] = {
    **{(s, Unanswered): AttemptStatus.UNKNOWN for s in OPEN_ATTEMPT},
    **{(s, Authorised): s for s in OPEN_ATTEMPT},
    **{(s, Declined): AttemptStatus.FAILED for s in OPEN_ATTEMPT},
    **{(s, Paid): AttemptStatus.SUCCEEDED for s in OPEN_ATTEMPT},
    (AttemptStatus.FAILED, Recovered): AttemptStatus.RECOVERED,
}


def advance(attempt: PaymentAttempt, event: AttemptEvent) -> PaymentAttempt:
    """The attempt after `event`, forward only: an event its status does not take (see
    `TRANSITIONS`) leaves it unchanged, so a late or repeated answer changes nothing.

    A daily charge keeps the first authorisation it recorded (`Authorised` never replaces it,
    and an answer about another authorisation of it is a duplicate: `answer` drops it).
    """
    status = TRANSITIONS.get((attempt.status, type(event)))
    if status is None:
        return attempt
    match event:
        case Unanswered(payment_id):
            return replace(
                attempt, status=status, gateway_payment_id=payment_id or attempt.gateway_payment_id
            )
        case Authorised(payment_id):
            return replace(attempt, gateway_payment_id=attempt.gateway_payment_id or payment_id)
        case Declined(payment_id, code):
            return replace(
                attempt,
                status=status,
                decline_code=code,
                gateway_payment_id=payment_id or attempt.gateway_payment_id,
            )
        case Paid(payment_id, posting_id):
            return replace(
                attempt,
                status=status,
                gateway_payment_id=payment_id,
                posting_id=posting_id,
                decline_code=None,
            )
        case Recovered():
            return replace(attempt, status=status)


def answer(
    attempt: PaymentAttempt,
    payment: Payment | None,
    declined: tuple[str, str | None] | None,
    posting_id: str,
) -> AttemptEvent | None:
    """What the gateway's answer about an attempt is: `payment` as it stands now (None: no
    payment came back), `declined` (decline code, payment id) if the card was refused.
    `posting_id`: the posting a payment that succeeded is recorded by. None: the answer is
    about another authorisation of a daily charge than the one it keeps (a duplicate).

    Raises GatewayMismatch if the gateway's payment is not for the attempt's amount."""
    if payment is not None:
        recorded = attempt.gateway_payment_id
        if attempt.purpose is PaymentPurpose.DAILY_CHARGE and recorded not in (None, payment.id):
            return None
        if (payment.amount, payment.currency) != (attempt.amount.amount, attempt.amount.currency):
            raise GatewayMismatch(
                f"gateway payment {payment.id} is {payment.amount} {payment.currency}, "
                f"attempt {attempt.id} asked {attempt.amount.amount} {attempt.amount.currency}"
            )
    if declined is not None:
        code, declined_id = declined
        named = payment.id if payment is not None else attempt.gateway_payment_id or declined_id
        return Declined(named, code)
    if payment is None:
        return Unanswered()
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        return Declined(payment.id, payment.decline_code or payment.status.value)
    if payment.status is not PaymentStatus.SUCCEEDED:
        return Unanswered(payment.id)
    return Paid(payment.id, posting_id)


def refund_after(refund: PaymentRefund, done: Refund) -> PaymentRefund:
    """An open refund after the gateway's answer `done` (the caller adds the posting of one
    that succeeded); a settled one stays as it is.

    Raises GatewayMismatch if the gateway refunded another amount than asked."""
    if refund.status not in OPEN_REFUND:
        return refund
    if done.amount != refund.amount.amount:
        raise GatewayMismatch(f"gateway refunded {done.amount}, asked {refund.amount.amount}")
    if done.status is RefundStatus.SUCCEEDED:
        status = RefundRecordStatus.SUCCEEDED
    elif done.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
        status = RefundRecordStatus.FAILED
    else:
        status = RefundRecordStatus.UNKNOWN
    return replace(refund, status=status, gateway_refund_id=done.id)


class TopUpOrderStatus(enum.StrEnum):
    """A VNPay top-up: `pending` until VNPay's signed result, then `paid` or `failed`."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TopUpOrder:
    """A wallet top-up the rider pays at VNPay (redirect, return, IPN): `txn_ref` is the order
    VNPay sees; `transaction_no` VNPay's own number once it answered."""

    txn_ref: str
    account_id: str
    amount: Money
    status: TopUpOrderStatus
    created_at: datetime
    confirmed_at: datetime | None = None
    response_code: str | None = None
    transaction_no: str | None = None
