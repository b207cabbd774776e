"""Many payments at once (the settlement's charge stage): each follows
`ticketing.payment_flows.attempts` step for step, but its transactions are shared.

A payment that reaches one of its steps (stored and claimed before its call; its
authorisation noted before capture; its answer recorded and posted after) joins the
payments waiting at that step at the same moment, and they commit together: one
transaction, and one statement per kind of read or write, for the group (group commit).
While a group's transaction runs, the next group gathers, so the groups grow with the
database's latency and the number of payments in flight, and a lone payment waits for
nobody. Each payment is still claimed just before its own call (the lease never runs out
while it waits its turn), noted before its own capture, and recorded only after its own
answer, so what a crash or a lost answer leaves behind is what one payment alone would.

If a group's transaction fails, its payments are done again one by one (`OneByOne`), so
one payment's fault (a gateway answer for another amount, a deadlock) is its own, not the
group's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateways.errors import CardDeclined
from gateways.protocol import Payment
from ticketing.ledger.postings import Posting
from ticketing.outbox.messages import Message
from ticketing.payment_flows.attempts import (
    Claim,
    OneByOne,
    apply_answer,
    claim_of,
    payment_posting,
    record,
    settled_outcome,
)
from ticketing.payment_flows.debt import refresh_standings
from ticketing.payment_flows.results import PaymentOutcome, PaymentsContext
from ticketing.payments.errors import AttemptConflict, NoSavedCard
from ticketing.payments.model import (
    Authorised,
    Paid,
    PaymentAttempt,
    PaymentPurpose,
    advance,
    answer,
)
from ticketing.postings import payment_posting_id
from ticketing.unit_of_work import UnitOfWork, run_in_uow

T = TypeVar("T")
R = TypeVar("R")

Answer = tuple[str, Payment | None, CardDeclined | None]


class GroupCommit(Generic[T, R]):
    """Group commit: `await group(item)` waits for the next transaction, made by `many` for
    every item waiting (a result or an exception per item); if it fails, by `one` per item."""

    def __init__(
        self,
        many: Callable[[list[T]], Awaitable[list[R | Exception]]],
        one: Callable[[T], Awaitable[R]],
    ) -> None:
        self._many = many
        self._one = one
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    results = await self._results([item for item, _ in group])
                except BaseException as error:  # cancelled: nobody is left waiting for them
                    for _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    raise
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():  # its payment was cancelled meanwhile
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._flushing = None

    async def _results(self, items: list[T]) -> list[R | Exception]:
        try:
            return await self._many(items)
        except Exception:
            return [await _result_of(self._one(item)) for item in items]


async def _result_of(result: Awaitable[R]) -> R | Exception:
    try:
        return await result
    except Exception as error:
        return error


def _or_error(call: Callable[..., R], *args: object) -> R | Exception:
    try:
        return call(*args)
    except Exception as error:
        return error


@dataclass(frozen=True, slots=True)
class _Noted:
    attempt_id: str
    payment_id: str


class Grouped:
    """`attempts.Books` whose transactions the payments waiting at the same step share (see
    the module docstring). One per batch of payments."""

    def __init__(self, ctx: PaymentsContext) -> None:
        self._ctx = ctx
        alone = OneByOne(ctx)
        self._claims = GroupCommit(self._claim_many, alone.claim)
        self._notes = GroupCommit(self._note_many, lambda n: alone.note(n.attempt_id, n.payment_id))
        self._records = GroupCommit(self._record_many, lambda a: record(ctx, *a))

    async def claim(self, new: PaymentAttempt) -> PaymentOutcome | Claim:
        return await self._claims(new)

    async def note(self, attempt_id: str, payment_id: str) -> PaymentAttempt:
        return await self._notes(_Noted(attempt_id, payment_id))

    async def record(
        self, attempt_id: str, payment: Payment | None, declined: CardDeclined | None
    ) -> PaymentOutcome:
        return await self._records((attempt_id, payment, declined))

    async def _claim_many(
        self, news: Sequence[PaymentAttempt]
    ) -> list[PaymentOutcome | Claim | Exception]:
        """Step 1 for a group: the cards read, the attempts stored (the new ones claimed as
        they are) and the open ones stored before claimed, one statement each, one commit."""
        async with self._ctx.uows() as uow:
            cards = await uow.payments.saved_cards(new.account_id for new in news)
            stored, claimed = await uow.payments.add_attempts(
                [n for n in news if n.account_id in cards], self._ctx.lease
            )
            settled: dict[str, PaymentOutcome | Exception | None] = {}
            for new in news:
                if new.account_id in cards and new.id not in settled:
                    settled[new.id] = _or_error(settled_outcome, new, stored[new.id])
            calls = dict.fromkeys(claimed, 1)  # new ones, claimed as they were stored
            calls.update(
                await uow.payments.claim_attempts(
                    [k for k, o in settled.items() if o is None and k not in claimed],
                    self._ctx.lease,
                )
            )
            await uow.commit()
        results: list[PaymentOutcome | Claim | Exception] = []
        for new in news:
            card = cards.get(new.account_id)
            outcome = settled.get(new.id)
            if card is None:
                results.append(NoSavedCard(f"account {new.account_id!r} has no saved card"))
            elif outcome is not None:
                results.append(outcome)
            else:  # the same attempt twice in a group: only the first holds the claim
                known = stored[new.id].gateway_payment_id
                results.append(_or_error(claim_of, new, card, calls.pop(new.id, None), known))
        return results

    async def _note_many(self, noted: Sequence[_Noted]) -> list[PaymentAttempt | Exception]:
        """Authorisations recorded for a group, in one transaction."""

        async def note(uow: UnitOfWork) -> list[PaymentAttempt | Exception]:
            locked = await uow.payments.locked_attempts(n.attempt_id for n in noted)
            changed: dict[str, PaymentAttempt] = {}
            results: list[PaymentAttempt | Exception] = []
            for item in noted:
                attempt = locked.get(item.attempt_id)
                if attempt is None:
                    results.append(AttemptConflict(f"no payment attempt {item.attempt_id!r}"))
                    continue
                moved = advance(attempt, Authorised(item.payment_id))
                if moved != attempt:
                    locked[item.attempt_id] = changed[item.attempt_id] = moved
                results.append(moved)
            await uow.payments.save_attempts(list(changed.values()))
            return results

        return await run_in_uow(self._ctx.uows, note)

    async def _record_many(self, answers: Sequence[Answer]) -> list[PaymentOutcome | Exception]:
        """Step 3 for a group, in one transaction. A first attempt's charge the gateway took
        (nearly all of them) is posted and saved with the group's others, one statement each,
        and the accounts' standings refreshed together; it pays no declined attempt (it has
        none: a charge's retries exist only once its first attempt was declined, which is
        final) and tells the rider nothing. Any other answer is applied as `record` would."""
        ctx, told = self._ctx, list[Message]()

        async def apply(uow: UnitOfWork) -> list[PaymentOutcome | Exception]:
            told.clear()  # a transaction run again decides again
            locked = await uow.payments.locked_attempts(a[0] for a in answers)
            postings: list[Posting] = []
            paid: dict[str, PaymentAttempt] = {}
            results: list[PaymentOutcome | Exception] = []
            for attempt_id, payment, declined in answers:
                attempt = locked.get(attempt_id)
                if attempt is None:
                    results.append(AttemptConflict(f"no payment attempt {attempt_id!r}"))
                    continue
                if not attempt.status.is_final:
                    if payment is not None and declined is None and _first_charge(attempt):
                        event = answer(attempt, payment, None, payment_posting_id(attempt.id))
                        if isinstance(event, Paid):
                            postings.append(payment_posting(ctx, attempt, payment))
                            attempt = paid[attempt_id] = advance(attempt, event)
                    if not attempt.status.is_final:
                        attempt = await apply_answer(ctx, uow, attempt, payment, declined, told)
                locked[attempt_id] = attempt
                results.append(PaymentOutcome.of(attempt))
            await uow.ledger.post_many(postings, savepoint=False)  # a fault fails the group
            await uow.payments.save_attempts(list(paid.values()), release=True)
            await refresh_standings(ctx, uow, {a.account_id for a in paid.values()})
            return results

        results = await run_in_uow(ctx.uows, apply)
        await ctx.announce(told)
        return results


def _first_charge(attempt: PaymentAttempt) -> bool:
    return attempt.purpose is PaymentPurpose.DAILY_CHARGE and attempt.id == attempt.charge_key
