"""The pricing queue: account-days whose taps changed since they were last priced.

`mark` runs in a tap batch's own transaction, so a stored tap is never left without its day
queued, and a day being priced while new taps arrive is queued again (see `mark`). `claim`
hands a worker some queued days for the rest of its transaction: on PostgreSQL
with FOR UPDATE SKIP LOCKED (any number of workers on any number of machines take disjoint
rows without waiting for each other), plus a transaction-scoped advisory lock per account so
two workers never price days of one account at once (caps and wallets span days). SQLite has
one writer at a time, so a plain SELECT is the claim. The worker deletes what it priced in the
same transaction (`remove`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import Upsert, bulk_insert, chunks, dialect_name
from ticketing.db.models import PricingQueueRow, table_of

QUEUE = table_of(PricingQueueRow)
# A day queued again keeps its `dirty_since` and loses any postponement.
_REQUEUE = Upsert(key=("account_id", "service_day"), replace=("retry_at",))
AccountDay = tuple[str, date]

# The accounts of `:accounts` whose advisory lock this transaction got (released at its end).
_LOCK_ACCOUNTS = text(
    "SELECT account FROM unnest(CAST(:accounts AS text[])) AS account "
    "WHERE pg_try_advisory_xact_lock(hashtextextended('faregate-pricing:' || account, 0))"
)


class PricingQueue:
    """The dirty account-days (see the module docstring)."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    async def mark(self, keys: Iterable[AccountDay]) -> None:
        """Queue account-days for pricing; a day already queued keeps its `dirty_since` (and
        may be claimed again at once if it was postponed).

        An upsert, not an insert that skips conflicts: if a worker holds the day's row (it is
        pricing the day from taps read before ours committed), the update waits for the
        worker's transaction; once it has deleted the row, the day is inserted again, so it is
        priced again with our taps. Skipping the conflict instead would lose that re-pricing.
        """
        now = self._clock()
        # Sorted, so concurrent batches lock the rows they share in one order (no deadlock).
        rows = [
            {"account_id": account, "service_day": day, "dirty_since": now, "retry_at": None}
            for account, day in sorted(set(keys))
        ]
        await bulk_insert(self._session, QUEUE, rows, upsert=_REQUEUE)

    async def claim(self, limit: int) -> list[AccountDay]:
        """Up to `limit` queued account-days, oldest first, held by this transaction."""
        now = self._clock()
        query = (
            select(QUEUE.c.account_id, QUEUE.c.service_day)
            .where(or_(QUEUE.c.retry_at.is_(None), QUEUE.c.retry_at <= now))
            .order_by(QUEUE.c.dirty_since, QUEUE.c.account_id, QUEUE.c.service_day)
            .limit(limit)
        )
        return await self._claim(query)

    async def claim_one(self, key: AccountDay) -> list[AccountDay]:
        """The one account-day if it is still queued and no other worker holds it."""
        account, day = key
        query = select(QUEUE.c.account_id, QUEUE.c.service_day).where(
            QUEUE.c.account_id == account, QUEUE.c.service_day == day
        )
        return await self._claim(query)

    async def _claim(self, query: Select[Any]) -> list[AccountDay]:
        if dialect_name(self._session) != "postgresql":
            return [(row[0], row[1]) for row in await self._session.execute(query)]
        locking = query.with_for_update(skip_locked=True)
        claimed = [(row[0], row[1]) for row in await self._session.execute(locking)]
        if not claimed:
            return []
        accounts = sorted({account for account, _ in claimed})
        locked = set(await self._session.scalars(_LOCK_ACCOUNTS, {"accounts": accounts}))
        return [(a, d) for a, d in claimed if a in locked]

    async def remove(self, keys: Sequence[AccountDay]) -> None:
        for chunk in chunks(sorted(keys), 500):
            await self._session.execute(
                delete(QUEUE).where(tuple_(QUEUE.c.account_id, QUEUE.c.service_day).in_(chunk))
            )

    async def postpone(self, key: AccountDay, until: datetime) -> None:
        """Leave a day that failed to price queued, not to be claimed before `until`."""
        account, day = key
        await self._session.execute(
            update(QUEUE)
            .where(and_(QUEUE.c.account_id == account, QUEUE.c.service_day == day))
            .values(retry_at=until)
        )

    async def oldest_dirty_since(self) -> datetime | None:
        value: datetime | None = await self._session.scalar(select(func.min(QUEUE.c.dirty_since)))
        return value

    async def count(self) -> int:
        return int(await self._session.scalar(select(func.count()).select_from(QUEUE)) or 0)

    async def queued(self) -> list[AccountDay]:
        rows = await self._session.execute(
            select(QUEUE.c.account_id, QUEUE.c.service_day).order_by(
                QUEUE.c.account_id, QUEUE.c.service_day
            )
        )
        return [(a, d) for a, d in rows]
