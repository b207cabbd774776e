"""What the payment flows return: plain values, and the shared context the flows run in."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateways.protocol import Gateway
from ticketing.errors import OutboxError
from ticketing.money import Money
from ticketing.outbox.announcements import DEFAULT_LOW_BALANCE
from ticketing.outbox.messages import Message
from ticketing.outbox.protocol import Outbox
from ticketing.payments.model import (
    AttemptStatus,
    PaymentAttempt,
    PaymentRefund,
    RefundRecordStatus,
)
from ticketing.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """Where one payment attempt stands after a call (or a lookup) and its recording."""

    attempt_id: str
    status: AttemptStatus
    amount: Money
    gateway_payment_id: str | None
    decline_code: str | None
    posting_id: str | None

    @property
    def succeeded(self) -> bool:
        return self.status is AttemptStatus.SUCCEEDED

    @classmethod
    def of(cls, attempt: PaymentAttempt) -> PaymentOutcome:
        return cls(
            attempt.id,
            attempt.status,
            attempt.amount,
            attempt.gateway_payment_id,
            attempt.decline_code,
            attempt.posting_id,
        )


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund_id: str
    status: RefundRecordStatus
    amount: Money
    gateway_refund_id: str | None
    posting_id: str | None

    @classmethod
    def of(cls, refund: PaymentRefund) -> RefundOutcome:
        return cls(
            refund.id, refund.status, refund.amount, refund.gateway_refund_id, refund.posting_id
        )


@dataclass(frozen=True, slots=True)
class Standing:
    """An account's unpaid daily charges and what they did to it."""

    account_id: str
    debt: int
    debt_limit: int
    denied: bool


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    event_id: str
    duplicate: bool
    payment: PaymentOutcome | None


@dataclass(frozen=True, slots=True)
class PaymentsContext:
    """What every flow needs: units of work, the gateway, our clearing account on it, the
    webhook secret, the debt limit of accounts we have no record of, the claim lease, and
    the outbox riders are told through (None: nobody is told) with the wallet balance below
    which they are warned."""

    uows: UnitOfWorkFactory
    gateway: Gateway
    clearing: str
    webhook_secret: str | None
    default_debt_limit: int
    lease: timedelta
    outbox: Outbox | None = None
    low_balance: Money = DEFAULT_LOW_BALANCE

    def now(self) -> datetime:
        return self.uows.clock()

    async def announce(self, messages: Iterable[Message]) -> None:
        """Send what a flow decided, after its transaction committed. The money is already
        recorded: an outbox that fails is logged, not turned into a failed payment."""
        if self.outbox is None:
            return
        for message in messages:
            try:
                await self.outbox.send(message)
            except OutboxError as error:
                log.warning("message %s not sent: %s", message.dedup_key, error)
