"""`PaymentsService`: the payment flows over one gateway, as one object the CLI, the demo and
the HTTP API hold.

The flows live in focused modules: `attempts` (the store-claim-call-record pattern every
payment follows), `charges` (customers, cards, top-ups, daily charges, retries), `refunds`,
`webhooks` and `debt` (declined days, debt recovery and the deny list). Each opens its own
transactions: a gateway call always happens between commits, never inside an open transaction.
Postings are built in `ticketing.postings`. Riders are told what a flow decided (a declined
day, a debt paid, a low wallet: `ticketing.outbox.announcements`) through `outbox`, after the
transaction that decided it commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

from gateways.protocol import Gateway
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.outbox.announcements import DEFAULT_LOW_BALANCE
from ticketing.outbox.protocol import Outbox
from ticketing.payment_flows import charges, debt, duplicates, refunds, webhooks
from ticketing.payment_flows.batch import Grouped
from ticketing.payment_flows.duplicates import DuplicateCharge
from ticketing.payment_flows.results import (
    PaymentOutcome,
    PaymentsContext,
    RefundOutcome,
    Standing,
    WebhookOutcome,
)
from ticketing.payments.model import AttemptStatus
from ticketing.unit_of_work import UnitOfWorkFactory


class PaymentsService:
    """The payment flows over a `Gateway` and the ledger (see the module docstring)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        gateway: Gateway,
        *,
        gateway_name: str = "stripe",
        webhook_secret: str | None = None,
        default_debt_limit: int = 0,
        claim_lease: timedelta = timedelta(seconds=60),
        outbox: Outbox | None = None,
        low_balance: Money = DEFAULT_LOW_BALANCE,
    ) -> None:
        self._ctx = PaymentsContext(
            uows=uow_factory,
            gateway=gateway,
            clearing=accounts.gateway_clearing(gateway_name),
            webhook_secret=webhook_secret,
            default_debt_limit=default_debt_limit,
            lease=claim_lease,
            outbox=outbox,
            low_balance=low_balance,
        )

    @property
    def clearing_account(self) -> str:
        """The ledger account of money the gateway collected for us."""
        return self._ctx.clearing

    async def ensure_customer(self, account_id: str, *, email: str | None = None) -> str:
        return await charges.ensure_customer(self._ctx, account_id, email=email)

    async def save_card(self, account_id: str, payment_method: str) -> str:
        return await charges.save_card(self._ctx, account_id, payment_method)

    async def top_up(self, account_id: str, amount: Money, *, request_id: str) -> PaymentOutcome:
        return await charges.top_up(self._ctx, account_id, amount, request_id=request_id)

    async def charge_day(self, account_id: str, day: date, amount: Money) -> PaymentOutcome:
        return await charges.charge_day(self._ctx, account_id, day, amount)

    def batch(self) -> ChargeBatch:
        """Charges whose transactions the charges in flight at the same moment share (the
        settlement's charge stage: `ticketing.payment_flows.batch`)."""
        return ChargeBatch(self._ctx)

    async def charge_adjustment(
        self, account_id: str, day: date, version: int, amount: Money
    ) -> PaymentOutcome:
        return await charges.charge_adjustment(self._ctx, account_id, day, version, amount)

    async def charge_parking(self, account_id: str, day: date, amount: Money) -> PaymentOutcome:
        return await charges.charge_parking(self._ctx, account_id, day, amount)

    async def pay_for_pass(self, account_id: str, pass_id: str, amount: Money) -> PaymentOutcome:
        return await charges.pay_for_pass(self._ctx, account_id, pass_id, amount)

    async def retry_failed_charges(self, account_id: str) -> list[PaymentOutcome]:
        return await charges.retry_failed_charges(self._ctx, account_id)

    async def void_duplicate_charges(
        self,
        created_from: datetime,
        created_until: datetime | None,
        *,
        reported: Collection[str] = (),
    ) -> list[DuplicateCharge]:
        """Void (or refund) daily charges made twice at the gateway among the payments created
        in the period, but those `reported` already, and report them (see
        `ticketing.payment_flows.duplicates`)."""
        return await duplicates.void_duplicate_charges(
            self._ctx, created_from, created_until, reported=reported
        )

    async def refund(
        self, attempt_id: str, *, refund_id: str, amount: int | None = None
    ) -> RefundOutcome:
        return await refunds.refund(self._ctx, attempt_id, refund_id=refund_id, amount=amount)

    async def handle_webhook(
        self, payload: bytes, signature: str | None, *, now: datetime | None = None
    ) -> WebhookOutcome:
        return await webhooks.handle_webhook(self._ctx, payload, signature, now=now)

    async def standing(self, account_id: str) -> Standing:
        return await debt.standing(self._ctx, account_id)

    async def attempts(self, account_id: str | None = None) -> list[PaymentOutcome]:
        async with self._ctx.uows() as uow:
            return [PaymentOutcome.of(r) for r in await uow.payments.attempts(account_id)]

    async def open_attempts(self) -> list[str]:
        """Attempts whose outcome we do not know yet (to retry or reconcile)."""
        async with self._ctx.uows() as uow:
            return await uow.payments.open_attempt_ids()

    async def totals_by_status(self) -> dict[AttemptStatus, int]:
        async with self._ctx.uows() as uow:
            return await uow.payments.totals_by_status()


class ChargeBatch:
    """`PaymentsService.charge_day` for many charges in flight at once, each the same
    idempotent attempt, their transactions shared (`ticketing.payment_flows.batch`)."""

    def __init__(self, ctx: PaymentsContext) -> None:
        self._ctx = ctx
        self._books = Grouped(ctx)

    async def charge_day(self, account_id: str, day: date, amount: Money) -> PaymentOutcome:
        return await charges.charge_day(self._ctx, account_id, day, amount, books=self._books)
