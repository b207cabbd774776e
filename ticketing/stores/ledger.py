"""The ledger stored in the database: idempotent postings, reversals, holds, balances, checks.

`Ledger` works inside the caller's transaction (it never commits) so a payment record and its
posting commit together. Every write runs in a SAVEPOINT: a refused posting (insufficient
funds, conflict) leaves the caller's transaction as it was, so the caller may catch it and
carry on (e.g. charge the shortfall to the receivable instead); only `post_many(...,
savepoint=False)`, for a caller that rolls its whole transaction back, does without.

Idempotency: the posting row is inserted first with ON CONFLICT DO NOTHING. A concurrent
transaction posting the same id waits on the unique index until the first commits, then sees
the row and compares body hashes: equal means the first result is returned, different raises
`PostingConflict`. Balances live on `ledger_accounts` (debit-positive) and are changed only
under a row lock taken in code order, so concurrent postings cannot both spend one wallet. The
lock is FOR NO KEY UPDATE: it never changes a key, so other transactions' foreign-key checks
on the account (inserting their entries) need not wait for it.

Lock order: every call (`post`, `post_many`, holds) first locks all the accounts it names, in
one statement in code order, and only then takes its posting ids (inserted in id order). So a
transaction never holds a posting id while it waits for an account: one that posts its own id
and then a shared one, against another posting the shared id in a batch, queue on the shared
accounts instead of locking each other out. Two transactions that each make several calls can
still lock accounts in opposite orders (A then B against B then A); PostgreSQL detects that
cycle and aborts one, and `ticketing.unit_of_work.run_in_uow` runs its use case again.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Row, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import (
    among,
    any_of,
    bulk_insert,
    bulk_update,
    chunks,
    dialect_name,
    insert_or_skip,
    once_per_dialect,
    value_lists,
)
from ticketing.db.models import EntryRow, HoldRow, LedgerAccountRow, PostingRow, table_of
from ticketing.ledger.accounts import AccountKind, parse_code
from ticketing.ledger.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    HoldError,
    InvalidPosting,
    PostingConflict,
    UnknownAccount,
    UnknownPosting,
)
from ticketing.ledger.holds import Hold, HoldStatus
from ticketing.ledger.postings import Entry, Posting, net_by_account
from ticketing.ledger.reports import CurrencyTotals, InvariantCheck, InvariantReport, TrialBalance
from ticketing.ledger.rules import AccountState
from ticketing.money import Money
from ticketing.postings import hold_capture_id

ACCOUNTS = table_of(LedgerAccountRow)
POSTINGS = table_of(PostingRow)
ENTRIES = table_of(EntryRow)
HOLDS = table_of(HoldRow)
# The account statements of every posting, built once (`once_per_dialect`).
_known = once_per_dialect(
    lambda dialect: select(ACCOUNTS.c.code).where(any_of(dialect, ACCOUNTS.c.code))
)
_locked = once_per_dialect(
    lambda dialect: (
        select(ACCOUNTS)
        .where(any_of(dialect, ACCOUNTS.c.code))
        .order_by(ACCOUNTS.c.code)
        .with_for_update(key_share=True)
    )
)
DETAIL_EXAMPLES = 5  # how many offenders an invariant failure names


@dataclass(frozen=True, slots=True)
class PostingReceipt:
    """The outcome of posting: `created` is False when the id was already recorded with the
    same body (a retry), in which case `recorded_at` is the first recording's time."""

    posting_id: str
    created: bool
    recorded_at: datetime


def _state(row: Row[Any]) -> AccountState:
    return AccountState(
        row.code,
        AccountKind(row.kind),
        row.currency,
        row.balance,
        row.pending_debits,
        row.overdraft_limit,
    )


def _hold(row: HoldRow) -> Hold:
    return Hold(
        row.id,
        row.debit_account,
        row.credit_account,
        Money(row.amount, row.currency),
        row.created_at,
        row.description,
        row.status,
        row.posting_id,
        None if row.captured_amount is None else Money(row.captured_amount, row.currency),
        row.resolved_at,
    )


_POSTINGS_WITH_ENTRIES = select(
    POSTINGS.c.id,
    POSTINGS.c.occurred_at,
    POSTINGS.c.recorded_at,
    POSTINGS.c.description,
    POSTINGS.c.metadata,
    POSTINGS.c.reverses,
    ENTRIES.c.account_code,
    ENTRIES.c.amount,
    ENTRIES.c.currency,
).join(ENTRIES, ENTRIES.c.posting_id == POSTINGS.c.id)


def _joined_postings(rows: Iterable[Any]) -> Iterator[tuple[Posting, Any]]:
    """The postings of rows of `_POSTINGS_WITH_ENTRIES` ordered by posting (entries in entry
    order), each with its first row."""
    for _, group in itertools.groupby(rows, key=attrgetter("id")):
        lines = list(group)
        first = lines[0]
        entries = tuple(Entry(r.account_code, Money(r.amount, r.currency)) for r in lines)
        posting = Posting(
            first.id, entries, first.occurred_at, first.description, first.metadata, first.reverses
        )
        yield posting, first


def _mirrors(reversal: Posting, original: Posting) -> bool:
    def lines(p: Posting, sign: int) -> Counter[tuple[str, str, int]]:
        return Counter((e.account, e.amount.currency, sign * e.amount.amount) for e in p.entries)

    return lines(reversal, 1) == lines(original, -1)


class Ledger:
    """Double-entry ledger operations on one session. See the module docstring."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    # --- accounts ---------------------------------------------------------------------

    async def open_account(
        self, code: str, currency: str, *, overdraft_limit: int = 0
    ) -> AccountState:
        """Create an account (idempotent); accounts are also opened by their first posting
        with a zero overdraft limit. Re-opening in another currency is refused."""
        return (await self.open_accounts([AccountState.new(code, currency, overdraft_limit)]))[code]

    async def open_accounts(self, wanted: Sequence[AccountState]) -> dict[str, AccountState]:
        """`open_account` for many (each `AccountState.new(code, currency, limit)`), in a few
        statements whatever their number: an existence check, an insert and a locking read
        per chunk, one update of the limits that differ. The states by code."""
        by_code = {w.code: w for w in wanted}  # a code given twice: the last one
        async with self._session.begin_nested():
            states = await self._lock_accounts({w.code: w.currency for w in wanted})
            for code, state in states.items():
                if state.currency != by_code[code].currency:
                    raise CurrencyMismatch(
                        f"account {code!r} is in {state.currency}, not {by_code[code].currency}"
                    )
            changed = {
                code: replace(state, overdraft_limit=by_code[code].overdraft_limit)
                for code, state in states.items()
                if state.overdraft_limit != by_code[code].overdraft_limit
            }
            await bulk_update(
                self._session,
                ACCOUNTS,
                "code",
                [{"code": c, "overdraft_limit": s.overdraft_limit} for c, s in changed.items()],
            )
        return states | changed

    async def set_overdraft_limit(self, code: str, overdraft_limit: int) -> AccountState:
        async with self._session.begin_nested():
            state = await self._locked_account(code)
            return await self._set_limit(state, overdraft_limit)

    async def _set_limit(self, state: AccountState, overdraft_limit: int) -> AccountState:
        AccountState.new(state.code, state.currency, overdraft_limit)  # validates the limit
        await self._session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.code == state.code)
            .values(overdraft_limit=overdraft_limit)
        )
        return replace(state, overdraft_limit=overdraft_limit)

    async def account(self, code: str) -> AccountState:
        """The stored state of one account; `UnknownAccount` if nothing was ever posted to it."""
        row = (await self._session.execute(select(ACCOUNTS).where(ACCOUNTS.c.code == code))).first()
        if row is None:
            raise UnknownAccount(f"no ledger account {code!r}")
        return _state(row)

    async def accounts(self, codes: Iterable[str]) -> dict[str, AccountState]:
        """The stored state of each named account that exists (absent codes are left out)."""
        states: dict[str, AccountState] = {}
        for chunk in chunks(sorted(set(codes))):
            rows = await self._session.execute(select(ACCOUNTS).where(ACCOUNTS.c.code.in_(chunk)))
            states.update((row.code, _state(row)) for row in rows)
        return states

    async def balance(self, code: str) -> Money:
        """The balance as its owner reads it: a funded wallet and an owed receivable are
        positive (use `account(code).balance` for the raw debit-positive figure)."""
        return (await self.account(code)).normal_balance

    async def _locked_account(self, code: str) -> AccountState:
        row = (
            await self._session.execute(
                select(ACCOUNTS).where(ACCOUNTS.c.code == code).with_for_update(key_share=True)
            )
        ).first()
        if row is None:
            raise UnknownAccount(f"no ledger account {code!r}")
        return _state(row)

    async def _lock_accounts(self, currencies: dict[str, str]) -> dict[str, AccountState]:
        """Lock the accounts named, creating missing ones first, then taking every row lock in
        one statement in code order, so two transactions never wait on each other in a cycle."""
        codes = sorted(currencies)
        known: set[str] = set()
        if dialect_name(self._session) == "postgresql":
            for values in value_lists(self._session, codes):
                known.update(await self._session.scalars(_known(self._session), {"among": values}))
        else:  # one writer at a time, no row locks: the read is the lock, and a statement less
            states = await self._select_for_update(codes)
            if len(states) == len(codes):
                return states
            known.update(states)
        missing = [c for c in codes if c not in known]
        if missing:
            now = self._clock()
            await bulk_insert(
                self._session,
                ACCOUNTS,
                [
                    {
                        "code": code,
                        "kind": parse_code(code).kind.value,
                        "currency": currencies[code],
                        "balance": 0,
                        "pending_debits": 0,
                        "overdraft_limit": 0,
                        "created_at": now,
                    }
                    for code in missing
                ],
                skip_conflicts=True,
            )
        return await self._select_for_update(codes)

    async def _select_for_update(self, codes: Sequence[str]) -> dict[str, AccountState]:
        states: dict[str, AccountState] = {}
        for values in value_lists(self._session, codes):
            rows = await self._session.execute(_locked(self._session), {"among": values})
            states.update((row.code, _state(row)) for row in rows)
        return states

    async def _write_states(
        self, before: dict[str, AccountState], after: dict[str, AccountState]
    ) -> None:
        await bulk_update(
            self._session,
            ACCOUNTS,
            "code",
            [
                {"code": code, "balance": s.balance, "pending_debits": s.pending_debits}
                for code, s in after.items()
                if s != before[code]
            ],
        )

    # --- postings ---------------------------------------------------------------------

    async def post(self, posting: Posting) -> PostingReceipt:
        """Record a posting once. Same id and body again: no-op returning the first receipt.
        Same id, other body: `PostingConflict`. A wallet debit past its limit:
        `InsufficientFunds`. Either way nothing of this posting is written."""
        return (await self.post_many([posting]))[0]

    async def post_many(
        self,
        postings: Sequence[Posting],
        *,
        originals: Iterable[Posting] = (),
        savepoint: bool = True,
    ) -> list[PostingReceipt]:
        """Post a batch in bulk statements, all or nothing, receipts in input order.

        Idempotent per posting like `post`: ids already recorded are compared and skipped.
        Balance floors apply to each account's net change over the new postings of the batch.
        `originals`: stored postings the caller has just read (`find_postings`) that reversals
        in the batch reverse, which are then not read again to check the mirror.
        `savepoint=False`: for a caller whose transaction is rolled back whole if this raises
        (a group of daily charges), which needs no SAVEPOINT of its own (two statements).
        """
        return await self._post_many(postings, {p.id: p for p in originals}, savepoint=savepoint)

    async def post_reversal(self, reversal: Posting, original: Posting) -> PostingReceipt:
        """`post` a reversal of `original`, a posting the caller has just read with
        `get_posting`, which is then not read a second time to check the mirror."""
        if reversal.reverses != original.id:
            raise InvalidPosting(f"posting {reversal.id!r} does not reverse {original.id!r}")
        return (await self._post_many([reversal], {original.id: original}))[0]

    async def _post_many(
        self, postings: Sequence[Posting], originals: dict[str, Posting], *, savepoint: bool = True
    ) -> list[PostingReceipt]:
        """`post_many`, with `originals`: stored postings already read that the batch may
        reverse."""
        if not postings:
            return []
        batch: dict[str, Posting] = {}
        for posting in postings:
            first = batch.setdefault(posting.id, posting)
            if first.body_hash != posting.body_hash:
                raise PostingConflict(posting.id)
        now = self._clock()
        async with self._session.begin_nested() if savepoint else contextlib.nullcontext():
            # Accounts first (code order), then posting ids (id order): see the module docstring.
            locked = await self._lock_accounts(
                {e.account: e.amount.currency for p in batch.values() for e in p.entries}
            )
            receipts = await self._insert_postings(batch, now)
            fresh = [batch[pid] for pid, r in sorted(receipts.items()) if r.created]
            if fresh:
                await self._check_reversals(fresh, batch, originals)
                await self._apply_entries(fresh, locked)
        return [receipts[p.id] for p in postings]

    async def _insert_postings(
        self, batch: dict[str, Posting], now: datetime
    ) -> dict[str, PostingReceipt]:
        rows = [
            {
                "id": p.id,
                "body_hash": p.body_hash,
                "occurred_at": p.occurred_at,
                "recorded_at": now,
                "description": p.description,
                "metadata": dict(p.metadata),
                "reverses": p.reverses,
            }
            for _, p in sorted(batch.items())  # one insert order everywhere: no deadlocks
        ]
        inserted = await bulk_insert(
            self._session, POSTINGS, rows, skip_conflicts=True, returning=["id"]
        )
        created = {pid for (pid,) in inserted}
        receipts = {pid: PostingReceipt(pid, True, now) for pid in created}
        existing = [pid for pid in sorted(batch) if pid not in created]
        for chunk in chunks(existing):
            found = await self._session.execute(
                select(POSTINGS.c.id, POSTINGS.c.body_hash, POSTINGS.c.recorded_at).where(
                    POSTINGS.c.id.in_(chunk)
                )
            )
            for pid, body_hash, recorded_at in found:
                if body_hash != batch[pid].body_hash:
                    raise PostingConflict(pid)
                receipts[pid] = PostingReceipt(pid, False, recorded_at)
        for pid in existing:
            if pid not in receipts:  # skipped on the other unique key: `reverses`
                raise AlreadyReversed(f"posting {batch[pid].reverses!r} is already reversed")
        return receipts

    async def _check_reversals(
        self, fresh: Sequence[Posting], batch: dict[str, Posting], originals: dict[str, Posting]
    ) -> None:
        for reversal in fresh:
            if reversal.reverses is None:
                continue
            original = (
                batch.get(reversal.reverses)
                or originals.get(reversal.reverses)
                or await self.find_posting(reversal.reverses)
            )
            if original is None:
                raise UnknownPosting(f"posting {reversal.reverses!r} to reverse does not exist")
            if not _mirrors(reversal, original):
                raise InvalidPosting(
                    f"posting {reversal.id!r} does not mirror the posting it reverses"
                )

    async def _apply_entries(
        self, fresh: Sequence[Posting], locked: dict[str, AccountState]
    ) -> None:
        """Apply new postings to their accounts, which the caller has locked."""
        before = {e.account: locked[e.account] for p in fresh for e in p.entries}
        after = dict(before)
        for code, change in net_by_account(fresh).items():
            after[code] = after[code].apply(change)
        await self._write_states(before, after)
        await bulk_insert(
            self._session,
            ENTRIES,
            [
                {
                    "posting_id": p.id,
                    "account_code": e.account,
                    "amount": e.amount.amount,
                    "currency": e.amount.currency,
                }
                for p in fresh
                for e in p.entries
            ],
        )

    async def find_posting(self, posting_id: str) -> Posting | None:
        return (await self.find_postings([posting_id])).get(posting_id)

    async def find_postings(self, posting_ids: Iterable[str]) -> dict[str, Posting]:
        """The stored postings of those ids that exist, with their entries, in one query (per
        IN-list chunk elsewhere than PostgreSQL)."""
        found: dict[str, Posting] = {}
        for where in among(self._session, POSTINGS.c.id, sorted(set(posting_ids))):
            rows = await self._session.execute(
                _POSTINGS_WITH_ENTRIES.where(where).order_by(POSTINGS.c.id, ENTRIES.c.id)
            )
            found.update((posting.id, posting) for posting, _ in _joined_postings(rows))
        return found

    async def postings_recorded(
        self, start: datetime, end: datetime
    ) -> list[tuple[Posting, datetime]]:
        """Every posting recorded in [start, end), with when it was recorded, in recording
        order (one query: postings joined with their entries)."""
        rows = await self._session.execute(
            _POSTINGS_WITH_ENTRIES.where(
                POSTINGS.c.recorded_at >= start, POSTINGS.c.recorded_at < end
            ).order_by(POSTINGS.c.recorded_at, POSTINGS.c.id, ENTRIES.c.id)
        )
        return [(posting, row.recorded_at) for posting, row in _joined_postings(rows)]

    async def get_posting(self, posting_id: str) -> Posting:
        posting = await self.find_posting(posting_id)
        if posting is None:
            raise UnknownPosting(f"no posting {posting_id!r}")
        return posting

    async def reverse(
        self,
        posting_id: str,
        reversal_id: str,
        *,
        at: datetime | None = None,
        description: str | None = None,
    ) -> PostingReceipt:
        """Undo a posting with a mirror posting. Idempotent by `reversal_id`; a posting is
        reversed at most once (`AlreadyReversed` for a second reversal id)."""
        original = await self.get_posting(posting_id)
        reversal = original.reversal(
            reversal_id, occurred_at=at or self._clock(), description=description
        )
        existing = await self.find_posting(reversal_id)
        if existing is not None and existing.reverses == posting_id:
            return await self.post(existing)  # a retry: same receipt, whatever `at` says now
        return await self.post_reversal(reversal, original)

    # --- holds ------------------------------------------------------------------------

    async def hold(
        self,
        hold_id: str,
        *,
        debit: str,
        credit: str,
        amount: Money,
        at: datetime | None = None,
        description: str = "",
    ) -> Hold:
        """Reserve `amount` on `debit` (a wallet's available balance shrinks at once).
        Idempotent by id; the same id with other accounts, amount or description: HoldError."""
        hold = Hold(hold_id, debit, credit, amount, at or self._clock(), description)
        async with self._session.begin_nested():
            before = await self._lock_accounts({debit: amount.currency, credit: amount.currency})
            for state in before.values():
                if state.currency != amount.currency:
                    raise CurrencyMismatch(f"account {state.code!r} is in {state.currency}")
            created = await self._session.execute(
                insert_or_skip(self._session, HOLDS).returning(HOLDS.c.id),
                {
                    "id": hold.id,
                    "body_hash": hold.body_hash,
                    "debit_account": debit,
                    "credit_account": credit,
                    "amount": amount.amount,
                    "currency": amount.currency,
                    "description": description,
                    "status": HoldStatus.PENDING,
                    "created_at": hold.created_at,
                },
            )
            if created.first() is None:
                existing = await self.get_hold(hold_id)
                if existing.body_hash != hold.body_hash:
                    raise HoldError(f"hold {hold_id!r} already exists with a different body")
                return existing
            after = dict(before)
            after[debit] = before[debit].reserve(amount)
            await self._write_states(before, after)
        return hold

    async def get_hold(self, hold_id: str, *, lock: bool = False) -> Hold:
        query = select(HoldRow).where(HoldRow.id == hold_id)
        row = (await self._session.scalars(query.with_for_update() if lock else query)).first()
        if row is None:
            raise HoldError(f"no hold {hold_id!r}")
        return _hold(row)

    async def capture_hold(
        self,
        hold_id: str,
        amount: Money,
        *,
        posting_id: str | None = None,
        at: datetime | None = None,
    ) -> PostingReceipt:
        """Post the real amount (at most the held one) and release the reservation.
        Repeating the same capture returns its receipt; anything else on a resolved hold
        raises HoldError. `posting_id` defaults to `postings.hold_capture_id(hold_id)`."""
        posting_id = posting_id or hold_capture_id(hold_id)
        async with self._session.begin_nested():
            hold = await self.get_hold(hold_id, lock=True)
            currency = hold.amount.currency
            locked = await self._lock_accounts({hold.debit: currency, hold.credit: currency})
            if (
                hold.status is HoldStatus.CAPTURED
                and hold.posting_id == posting_id
                and hold.captured_amount == amount
            ):
                return await self.post(await self.get_posting(posting_id))
            captured, posting = hold.capture(posting_id, amount, at or self._clock())
            await self._release(hold, locked[hold.debit])
            receipt = await self.post(posting)
            await self._resolve(captured)
        return receipt

    async def void_hold(self, hold_id: str, *, at: datetime | None = None) -> Hold:
        """Release a pending hold without posting. Voiding a voided hold is a no-op."""
        async with self._session.begin_nested():
            hold = await self.get_hold(hold_id, lock=True)
            if hold.status is HoldStatus.VOIDED:
                return hold
            voided = hold.void(at or self._clock())
            await self._release(hold, await self._locked_account(hold.debit))
            await self._resolve(voided)
        return voided

    async def _release(self, hold: Hold, before: AccountState) -> None:
        """Drop the hold's pending debit from its debit account, locked by the caller."""
        after = before.release(hold.amount)
        await self._write_states({hold.debit: before}, {hold.debit: after})

    async def _resolve(self, hold: Hold) -> None:
        await self._session.execute(
            update(HOLDS)
            .where(HOLDS.c.id == hold.id)
            .values(
                status=hold.status,
                posting_id=hold.posting_id,
                captured_amount=None
                if hold.captured_amount is None
                else hold.captured_amount.amount,
                resolved_at=hold.resolved_at,
            )
        )

    # --- reports ----------------------------------------------------------------------

    async def trial_balance(self) -> TrialBalance:
        """Debits and credits of all entries per currency (net zero when the books balance)."""
        rows = await self._session.execute(
            select(
                ENTRIES.c.currency,
                func.coalesce(func.sum(case((ENTRIES.c.amount > 0, ENTRIES.c.amount), else_=0)), 0),
                func.coalesce(
                    func.sum(case((ENTRIES.c.amount < 0, -ENTRIES.c.amount), else_=0)), 0
                ),
            ).group_by(ENTRIES.c.currency)
        )
        return TrialBalance({c: CurrencyTotals(int(d), int(k)) for c, d, k in rows})

    async def check_invariants(self) -> InvariantReport:
        """Check everything the ledger promises, from the stored rows."""
        trial_balance = await self.trial_balance()
        nonzero = {c: t.net for c, t in trial_balance.totals.items() if t.net}
        checks = [
            InvariantCheck(
                "trial_balance_zero",
                not nonzero,
                f"net per currency: {nonzero}" if nonzero else "",
            ),
            await self._check_postings_balanced(),
            await self._check_postings_have_entries(),
            await self._check_balances_match_entries(),
            await self._check_entry_currencies(),
            await self._check_floors(),
            await self._check_holds(),
        ]
        return InvariantReport(trial_balance, tuple(checks))

    async def _offenders(self, name: str, query: Any, describe: str) -> InvariantCheck:
        rows = list(await self._session.execute(query.limit(DETAIL_EXAMPLES)))
        if not rows:
            return InvariantCheck(name, True)
        return InvariantCheck(name, False, f"{describe}: " + "; ".join(_describe(r) for r in rows))

    async def _check_postings_balanced(self) -> InvariantCheck:
        net = func.sum(ENTRIES.c.amount)
        return await self._offenders(
            "postings_balanced",
            select(ENTRIES.c.posting_id, ENTRIES.c.currency, net)
            .group_by(ENTRIES.c.posting_id, ENTRIES.c.currency)
            .having(net != 0)
            .order_by(ENTRIES.c.posting_id),
            "postings whose entries do not sum to zero (posting, currency, net)",
        )

    async def _check_postings_have_entries(self) -> InvariantCheck:
        counts = (
            select(ENTRIES.c.posting_id, func.count().label("n"))
            .group_by(ENTRIES.c.posting_id)
            .subquery()
        )
        return await self._offenders(
            "postings_have_entries",
            select(POSTINGS.c.id, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.posting_id == POSTINGS.c.id)
            .where(func.coalesce(counts.c.n, 0) < 2)
            .order_by(POSTINGS.c.id),
            "postings with fewer than two entries (posting, entries)",
        )

    async def _check_balances_match_entries(self) -> InvariantCheck:
        sums = (
            select(ENTRIES.c.account_code, func.sum(ENTRIES.c.amount).label("total"))
            .group_by(ENTRIES.c.account_code)
            .subquery()
        )
        total = func.coalesce(sums.c.total, 0)
        return await self._offenders(
            "account_balances_match_entries",
            select(ACCOUNTS.c.code, ACCOUNTS.c.balance, total)
            .outerjoin(sums, sums.c.account_code == ACCOUNTS.c.code)
            .where(ACCOUNTS.c.balance != total)
            .order_by(ACCOUNTS.c.code),
            "accounts whose balance differs from their entries (account, balance, entries)",
        )

    async def _check_entry_currencies(self) -> InvariantCheck:
        return await self._offenders(
            "entries_in_account_currency",
            select(ENTRIES.c.posting_id, ENTRIES.c.account_code, ENTRIES.c.currency)
            .join(ACCOUNTS, ACCOUNTS.c.code == ENTRIES.c.account_code)
            .where(ENTRIES.c.currency != ACCOUNTS.c.currency)
            .order_by(ENTRIES.c.id),
            "entries in a currency other than their account's (posting, account, currency)",
        )

    async def _check_floors(self) -> InvariantCheck:
        floored = [k.value for k in AccountKind if k.has_floor]
        used = ACCOUNTS.c.balance + ACCOUNTS.c.pending_debits
        return await self._offenders(
            "wallets_within_overdraft_limit",
            select(ACCOUNTS.c.code, -ACCOUNTS.c.balance, ACCOUNTS.c.overdraft_limit)
            .where(ACCOUNTS.c.kind.in_(floored), used > ACCOUNTS.c.overdraft_limit)
            .order_by(ACCOUNTS.c.code),
            "wallets below their overdraft limit (account, balance, limit)",
        )

    async def _check_holds(self) -> InvariantCheck:
        pending = (
            select(HOLDS.c.debit_account, func.sum(HOLDS.c.amount).label("held"))
            .where(HOLDS.c.status == HoldStatus.PENDING.value)
            .group_by(HOLDS.c.debit_account)
            .subquery()
        )
        held = func.coalesce(pending.c.held, 0)
        mismatched = await self._offenders(
            "holds_consistent",
            select(ACCOUNTS.c.code, ACCOUNTS.c.pending_debits, held)
            .outerjoin(pending, pending.c.debit_account == ACCOUNTS.c.code)
            .where(ACCOUNTS.c.pending_debits != held)
            .order_by(ACCOUNTS.c.code),
            "accounts whose pending debits differ from their pending holds (account, "
            "pending, holds)",
        )
        if not mismatched.ok:
            return mismatched
        captured_debit = (
            select(ENTRIES.c.posting_id, ENTRIES.c.account_code, ENTRIES.c.amount)
            .where(ENTRIES.c.amount > 0)
            .subquery()
        )
        resolved_right = case(
            (HOLDS.c.status == HoldStatus.PENDING.value, HOLDS.c.posting_id.is_(None)),
            (HOLDS.c.status == HoldStatus.VOIDED.value, HOLDS.c.posting_id.is_(None)),
            else_=(captured_debit.c.amount == HOLDS.c.captured_amount)
            & (HOLDS.c.captured_amount <= HOLDS.c.amount),
        )
        return await self._offenders(
            "holds_consistent",
            select(HOLDS.c.id, HOLDS.c.status, HOLDS.c.posting_id)
            .outerjoin(
                captured_debit,
                (captured_debit.c.posting_id == HOLDS.c.posting_id)
                & (captured_debit.c.account_code == HOLDS.c.debit_account),
            )
            .where(~func.coalesce(resolved_right, False))
            .order_by(HOLDS.c.id),
            "holds whose posting does not match their status (hold, status, posting)",
        )


def _describe(row: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in row)
