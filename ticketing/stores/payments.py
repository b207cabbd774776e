"""Payment records: gateway customers and cards, payment attempts, refunds, webhook events.

Attempts and refunds come and go as the payments model's values (`ticketing.payments.model`):
the flows read one (`locked_attempt`/`locked_refund` lock it to the end of the transaction),
move it forward with the model's `advance`, and write it back with `save_attempt` /
`save_refund`. `claim` takes the short lease that keeps two workers from calling the gateway
for one record at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import (
    Upsert,
    among,
    any_of,
    bulk_insert,
    bulk_update,
    insert_or_skip,
    once_per_dialect,
    value_lists,
)
from ticketing.db.models import table_of
from ticketing.db.payments_models import (
    GatewayCustomerRow,
    PaymentAttemptRow,
    PaymentRefundRow,
    WebhookEventRow,
)
from ticketing.money import Money
from ticketing.payments.model import (
    OPEN_ATTEMPT,
    OPEN_REFUND,
    AttemptStatus,
    PaymentAttempt,
    PaymentPurpose,
    PaymentRefund,
    RefundRecordStatus,
)

ATTEMPTS = table_of(PaymentAttemptRow)
REFUNDS = table_of(PaymentRefundRow)
CUSTOMERS = table_of(GatewayCustomerRow)
WEBHOOK_EVENTS = table_of(WebhookEventRow)
_CARD_SAVED = Upsert(
    ("account_id",), ("customer_id", "payment_method_id", "card_last4", "updated_at")
)


@dataclass(frozen=True, slots=True)
class SavedCard:
    customer_id: str
    payment_method_id: str
    last4: str | None = None


def _attempt(row: PaymentAttemptRow | Row[Any]) -> PaymentAttempt:
    return PaymentAttempt(
        id=row.id,
        purpose=row.purpose,
        account_id=row.account_id,
        amount=Money(row.amount, row.currency),
        status=row.status,
        service_day=row.service_day,
        charge_key=row.charge_key,
        gateway_payment_id=row.gateway_payment_id,
        decline_code=row.decline_code,
        posting_id=row.posting_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _refund(row: PaymentRefundRow) -> PaymentRefund:
    return PaymentRefund(
        id=row.id,
        attempt_id=row.attempt_id,
        amount=Money(row.amount, row.currency),
        status=row.status,
        gateway_refund_id=row.gateway_refund_id,
        posting_id=row.posting_id,
    )


def _attempts_where(*where: ColumnElement[bool]) -> Select[Any]:
    """The attempts that meet `where`, oldest first (the order attempts are locked in)."""
    return select(ATTEMPTS).where(*where).order_by(ATTEMPTS.c.created_at, ATTEMPTS.c.id)


# The statements of a batch of payments' groups, built once (`once_per_dialect`).
_by_id = once_per_dialect(lambda dialect: _attempts_where(any_of(dialect, ATTEMPTS.c.id)))
_locked_by_id = once_per_dialect(
    lambda dialect: _attempts_where(any_of(dialect, ATTEMPTS.c.id)).with_for_update()
)
_failed_charges_of = once_per_dialect(
    lambda dialect: _attempts_where(
        any_of(dialect, ATTEMPTS.c.account_id),
        ATTEMPTS.c.purpose == PaymentPurpose.DAILY_CHARGE,
        ATTEMPTS.c.status == AttemptStatus.FAILED,
        ATTEMPTS.c.charge_key.is_not(None),
    )
)
_cards_of = once_per_dialect(
    lambda dialect: select(CUSTOMERS).where(any_of(dialect, CUSTOMERS.c.account_id))
)


class PaymentRecords:
    """The payment flows' records (see the module docstring)."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    # --- customers and cards ----------------------------------------------------------

    async def add_customer(self, account_id: str) -> tuple[bool, str | None]:
        """Make sure the account has a customer row; (whether it is new, the gateway customer
        id if one was recorded)."""
        now = self._clock()
        inserted = await self._session.execute(
            insert_or_skip(self._session, CUSTOMERS).returning(CUSTOMERS.c.account_id),
            {"account_id": account_id, "created_at": now, "updated_at": now},
        )
        new = inserted.first() is not None
        row = await self._session.get_one(GatewayCustomerRow, account_id)
        return new, row.customer_id

    async def set_customer(self, account_id: str, customer_id: str) -> None:
        await self._session.execute(
            update(GatewayCustomerRow)
            .where(GatewayCustomerRow.account_id == account_id)
            .values(customer_id=customer_id, updated_at=self._clock())
        )

    async def set_card(self, account_id: str, payment_method_id: str, last4: str | None) -> None:
        await self._session.execute(
            update(GatewayCustomerRow)
            .where(GatewayCustomerRow.account_id == account_id)
            .values(payment_method_id=payment_method_id, card_last4=last4, updated_at=self._clock())
        )

    async def add_customers(self, cards: Mapping[str, SavedCard]) -> None:
        """The gateway's customer and saved card of many accounts (by account), in one
        statement: rows added, or their customer and card replaced, as `add_customer`,
        `set_customer` and `set_card` each would."""
        now = self._clock()
        await bulk_insert(
            self._session,
            CUSTOMERS,
            [
                {
                    "account_id": account_id,
                    "customer_id": card.customer_id,
                    "payment_method_id": card.payment_method_id,
                    "card_last4": card.last4,
                    "created_at": now,
                    "updated_at": now,
                }
                for account_id, card in sorted(cards.items())
            ],
            upsert=_CARD_SAVED,
        )

    async def saved_card(self, account_id: str) -> SavedCard | None:
        return (await self.saved_cards([account_id])).get(account_id)

    async def saved_cards(self, account_ids: Iterable[str]) -> dict[str, SavedCard]:
        """The saved card of each of these accounts that has one."""
        cards: dict[str, SavedCard] = {}
        query = _cards_of(self._session)
        for values in value_lists(self._session, sorted(set(account_ids))):
            for row in await self._session.execute(query, {"among": values}):
                if row.customer_id is not None and row.payment_method_id is not None:
                    cards[row.account_id] = SavedCard(
                        row.customer_id, row.payment_method_id, row.card_last4
                    )
        return cards

    # --- attempts ---------------------------------------------------------------------

    async def add_attempts(
        self, news: Sequence[PaymentAttempt], lease: timedelta
    ) -> tuple[dict[str, PaymentAttempt], set[str]]:
        """Store the attempts whose ids are new, each open one claimed as it is stored (its
        lease taken and its first gateway call counted: what `claim_attempts` would do to it
        next, without a second statement), in one insert; then read the ones stored before.
        The stored attempts by id, and the ids of those claimed here (one call each)."""
        now = self._clock()
        unique = {new.id: new for new in news}
        rows = []
        for new in sorted(unique.values(), key=lambda n: n.id):
            claimed = new.status in OPEN_ATTEMPT
            rows.append(
                {
                    "id": new.id,
                    "purpose": new.purpose,
                    "account_id": new.account_id,
                    "service_day": new.service_day,
                    "charge_key": new.charge_key,
                    "amount": new.amount.amount,
                    "currency": new.amount.currency,
                    "status": new.status,
                    "gateway_payment_id": new.gateway_payment_id,
                    "decline_code": new.decline_code,
                    "posting_id": new.posting_id,
                    "gateway_calls": 1 if claimed else 0,
                    "claimed_until": now + lease if claimed else None,
                    "created_at": new.created_at,
                    "updated_at": new.updated_at,
                }
            )
        inserted = await bulk_insert(
            self._session, ATTEMPTS, rows, skip_conflicts=True, returning=["id"]
        )
        fresh = {row_id for (row_id,) in inserted}
        # What was inserted is what we hold: only the attempts stored before are read.
        stored = {row_id: unique[row_id] for row_id in fresh}
        stored.update(await self._attempts_by_id(unique.keys() - fresh, lock=False))
        return stored, {row_id for row_id in fresh if unique[row_id].status in OPEN_ATTEMPT}

    async def attempt(self, attempt_id: str) -> PaymentAttempt | None:
        row = await self._session.get(PaymentAttemptRow, attempt_id, populate_existing=True)
        return None if row is None else _attempt(row)

    async def locked_attempt(self, attempt_id: str) -> PaymentAttempt | None:
        """The attempt, locked to the end of the transaction, read afresh."""
        return (await self.locked_attempts([attempt_id])).get(attempt_id)

    async def locked_attempts(self, attempt_ids: Iterable[str]) -> dict[str, PaymentAttempt]:
        """`locked_attempt` for many, locked in one order (oldest first) whoever asks."""
        return await self._attempts_by_id(attempt_ids, lock=True)

    async def _attempts_by_id(
        self, attempt_ids: Iterable[str], *, lock: bool
    ) -> dict[str, PaymentAttempt]:
        found: dict[str, PaymentAttempt] = {}
        query = (_locked_by_id if lock else _by_id)(self._session)
        for values in value_lists(self._session, sorted(set(attempt_ids))):
            found.update((a.id, a) for a in await self._read(query, {"among": values}))
        return found

    async def save_attempt(self, attempt: PaymentAttempt, *, release: bool = False) -> None:
        """Write what the flows moved forward (`ticketing.payments.model.advance`) on an
        attempt; `release`: the call is over, drop its lease too."""
        await self.save_attempts([attempt], release=release)

    async def save_attempts(
        self, attempts: Sequence[PaymentAttempt], *, release: bool = False
    ) -> None:
        """`save_attempt` for many, in one statement."""
        now = self._clock()
        rows: list[dict[str, object]] = []
        for attempt in attempts:
            row: dict[str, object] = {
                "id": attempt.id,
                "status": attempt.status,
                "gateway_payment_id": attempt.gateway_payment_id,
                "decline_code": attempt.decline_code,
                "posting_id": attempt.posting_id,
                "updated_at": now,
            }
            if release:
                row["claimed_until"] = None
            rows.append(row)
        await bulk_update(self._session, ATTEMPTS, "id", rows)

    async def attempt_for_payment(self, gateway_payment_id: str, key: str | None) -> str | None:
        """The id of our attempt for a gateway payment (by its id or our idempotency key)."""
        return await self._session.scalar(
            select(PaymentAttemptRow.id).where(
                (PaymentAttemptRow.gateway_payment_id == gateway_payment_id)
                | (PaymentAttemptRow.id == (key or ""))
            )
        )

    async def failed_charges(self, account_id: str) -> list[PaymentAttempt]:
        """The declined daily-charge attempts of an account not paid since, oldest first."""
        return (await self.failed_charges_of([account_id])).get(account_id, [])

    async def failed_charges_of(
        self, account_ids: Iterable[str]
    ) -> dict[str, list[PaymentAttempt]]:
        """`failed_charges` of each of these accounts that has any."""
        found: dict[str, list[PaymentAttempt]] = defaultdict(list)
        query = _failed_charges_of(self._session)
        for values in value_lists(self._session, sorted(set(account_ids))):
            for attempt in await self._read(query, {"among": values}):
                found[attempt.account_id].append(attempt)
        return dict(found)

    async def charge_attempts(self, charge_key: str) -> list[PaymentAttempt]:
        """Every attempt of one logical charge (first attempt and retries), oldest first."""
        return await self._attempts(ATTEMPTS.c.charge_key == charge_key)

    async def charge_attempts_of(
        self, charge_keys: Iterable[str]
    ) -> dict[str, list[PaymentAttempt]]:
        """`charge_attempts` of each of these charges that has any, by charge key."""
        found: dict[str, list[PaymentAttempt]] = defaultdict(list)
        for where in among(self._session, ATTEMPTS.c.charge_key, sorted(set(charge_keys))):
            for attempt in await self._attempts(where):
                assert attempt.charge_key is not None  # selected by it
                found[attempt.charge_key].append(attempt)
        return dict(found)

    async def declined_attempts(self, charge_key: str) -> list[PaymentAttempt]:
        """The declined attempts of one logical charge, locked to the end of the transaction."""
        return await self._attempts(
            ATTEMPTS.c.charge_key == charge_key,
            ATTEMPTS.c.status == AttemptStatus.FAILED,
            lock=True,
        )

    async def _attempts(
        self, *where: ColumnElement[bool], lock: bool = False
    ) -> list[PaymentAttempt]:
        query = _attempts_where(*where)
        return await self._read(query.with_for_update() if lock else query)

    async def _read(
        self, query: Select[Any], params: dict[str, object] | None = None
    ) -> list[PaymentAttempt]:
        # Table rows, not ORM objects: the values are all the flows take from them, and
        # building and refreshing an object per row cost more than the statement.
        return [_attempt(row) for row in await self._session.execute(query, params)]

    async def attempts_per_charge(self, charge_keys: Sequence[str]) -> dict[str, int]:
        counted = await self._session.execute(
            select(PaymentAttemptRow.charge_key, func.count())
            .where(PaymentAttemptRow.charge_key.in_(charge_keys))
            .group_by(PaymentAttemptRow.charge_key)
        )
        return {key: int(n) for key, n in counted.all() if key is not None}

    async def attempts(self, account_id: str | None = None) -> list[PaymentAttempt]:
        query = select(PaymentAttemptRow).order_by(PaymentAttemptRow.id)
        if account_id is not None:
            query = query.where(PaymentAttemptRow.account_id == account_id)
        rows = await self._session.scalars(query.execution_options(populate_existing=True))
        return [_attempt(row) for row in rows]

    async def open_attempt_ids(self) -> list[str]:
        rows = await self._session.scalars(
            select(PaymentAttemptRow.id).where(PaymentAttemptRow.status.in_(OPEN_ATTEMPT))
        )
        return list(rows)

    async def totals_by_status(self) -> dict[AttemptStatus, int]:
        totals: dict[AttemptStatus, int] = defaultdict(int)
        for status, amount in await self._session.execute(
            select(PaymentAttemptRow.status, func.sum(PaymentAttemptRow.amount)).group_by(
                PaymentAttemptRow.status
            )
        ):
            totals[status] += int(amount)
        return dict(totals)

    # --- refunds ----------------------------------------------------------------------

    async def refund(self, refund_id: str) -> PaymentRefund | None:
        row = await self._session.get(PaymentRefundRow, refund_id, populate_existing=True)
        return None if row is None else _refund(row)

    async def refunded(self, attempt_id: str) -> int:
        """What refunds of an attempt took or may still take (all but failed ones)."""
        total = await self._session.scalar(
            select(func.coalesce(func.sum(PaymentRefundRow.amount), 0)).where(
                PaymentRefundRow.attempt_id == attempt_id,
                PaymentRefundRow.status != RefundRecordStatus.FAILED,
            )
        )
        return int(total or 0)

    async def add_refund(self, new: PaymentRefund) -> None:
        now = self._clock()
        await self._session.execute(
            insert_or_skip(self._session, REFUNDS),
            {
                "id": new.id,
                "attempt_id": new.attempt_id,
                "amount": new.amount.amount,
                "currency": new.amount.currency,
                "status": new.status,
                "gateway_calls": 0,
                "created_at": now,
                "updated_at": now,
            },
        )

    async def locked_refund(self, refund_id: str) -> PaymentRefund | None:
        row = await self._session.scalar(
            select(PaymentRefundRow)
            .where(PaymentRefundRow.id == refund_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return None if row is None else _refund(row)

    async def save_refund(self, refund: PaymentRefund) -> None:
        """Write a refund after the gateway's answer, and drop the call's lease."""
        await self._session.execute(
            update(REFUNDS)
            .where(REFUNDS.c.id == refund.id)
            .values(
                status=refund.status,
                gateway_refund_id=refund.gateway_refund_id,
                posting_id=refund.posting_id,
                claimed_until=None,
                updated_at=self._clock(),
            )
        )

    # --- gateway call leases ----------------------------------------------------------

    async def claim_attempt(self, attempt_id: str, lease: timedelta) -> int | None:
        """Take the lease on an open attempt and count a gateway call (the count so far);
        None if the attempt is final or someone else holds the lease."""
        return (await self.claim_attempts([attempt_id], lease)).get(attempt_id)

    async def claim_attempts(self, attempt_ids: Sequence[str], lease: timedelta) -> dict[str, int]:
        """`claim_attempt` for many: the calls counted of each attempt claimed."""
        return await self._claim(ATTEMPTS, attempt_ids, OPEN_ATTEMPT, lease)

    async def claim_refund(self, refund_id: str, lease: timedelta) -> int | None:
        return (await self._claim(REFUNDS, [refund_id], OPEN_REFUND, lease)).get(refund_id)

    async def release_refund(self, refund_id: str) -> None:
        """Drop the lease after a call that ended without a definite answer: status unknown."""
        await self._session.execute(
            update(REFUNDS)
            .where(REFUNDS.c.id == refund_id, REFUNDS.c.status.in_(OPEN_REFUND))
            .values(status=RefundRecordStatus.UNKNOWN, claimed_until=None, updated_at=self._clock())
        )

    async def _claim(
        self, table: Table, row_ids: Sequence[str], open_states: Sequence[str], lease: timedelta
    ) -> dict[str, int]:
        now = self._clock()
        claimed: dict[str, int] = {}
        for where in among(self._session, table.c.id, sorted(set(row_ids))):
            result = await self._session.execute(
                update(table)
                .where(
                    where,
                    table.c.status.in_(open_states),
                    (table.c.claimed_until.is_(None)) | (table.c.claimed_until < now),
                )
                .values(
                    gateway_calls=table.c.gateway_calls + 1,
                    claimed_until=now + lease,
                    updated_at=now,
                )
                .returning(table.c.id, table.c.gateway_calls)
            )
            claimed.update((row_id, int(calls)) for row_id, calls in result.all())
        return claimed

    # --- webhook events ---------------------------------------------------------------

    async def add_webhook_event(self, event_id: str, event_type: str, object_id: str) -> bool:
        """Remember an event id; False if it was seen before (a redelivery)."""
        inserted = await self._session.execute(
            insert_or_skip(self._session, WEBHOOK_EVENTS).returning(WEBHOOK_EVENTS.c.event_id),
            {
                "event_id": event_id,
                "type": event_type,
                "object_id": object_id,
                "received_at": self._clock(),
            },
        )
        return inserted.first() is not None

    async def forget_webhook_event(self, event_id: str) -> None:
        """Forget an event whose processing failed, so its redelivery is processed."""
        await self._session.execute(
            delete(WebhookEventRow).where(WebhookEventRow.event_id == event_id)
        )
