"""Hypothesis on the stored ledger: any sequence of postings, retries, conflicting retries,
reversals, batches and holds leaves the books balanced, matches the pure model's balances,
and never takes a wallet below zero. Each example runs on its own accounts and ids in one
migrated database per backend."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketing.db.engine import create_engine
from ticketing.ledger import (
    AccountState,
    AlreadyReversed,
    Hold,
    HoldStatus,
    LedgerError,
    Posting,
    PostingConflict,
    accounts,
    net_by_account,
)
from ticketing.money import Money
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory

AT = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
WALLETS = 3
OPERATORS = ("metro-2a", "bus")

amounts = st.integers(1, 40_000)
ops = st.one_of(
    st.tuples(st.just("top_up"), st.integers(0, WALLETS - 1), amounts),
    st.tuples(st.just("fare"), st.integers(0, WALLETS - 1), st.sampled_from(OPERATORS), amounts),
    st.tuples(st.just("retry"), st.integers(0, 50)),
    st.tuples(st.just("conflict"), st.integers(0, 50)),
    # The salt varies the reversal id: the same salt again is a retry, another a second reversal.
    st.tuples(st.just("reverse"), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(
        st.just("batch"), st.lists(st.tuples(st.integers(0, WALLETS - 1), amounts), max_size=5)
    ),
    st.tuples(st.just("hold"), st.integers(0, WALLETS - 1), amounts),
    st.tuples(st.just("capture"), st.integers(0, 50), st.floats(0.01, 1.0)),
    st.tuples(st.just("void"), st.integers(0, 50)),
)


@dataclass
class Model:
    """The same operations applied to the pure domain values."""

    prefix: str
    accounts: dict[str, AccountState] = field(default_factory=dict)
    postings: dict[str, Posting] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)
    holds: dict[str, Hold] = field(default_factory=dict)

    def wallet(self, i: int) -> str:
        return accounts.wallet(f"{self.prefix}-{i}")

    def operator(self, name: str) -> str:
        return accounts.operator(f"{self.prefix}-{name}")

    @property
    def clearing(self) -> str:
        return accounts.gateway_clearing(self.prefix)

    def state(self, code: str) -> AccountState:
        return self.accounts.get(code) or AccountState.new(code, "VND")

    def apply(self, postings: list[Posting]) -> None:
        """Apply new postings, raising what the ledger must raise and changing nothing then."""
        fresh = []
        for p in postings:
            known = self.postings.get(p.id)
            if known is not None and known.body_hash != p.body_hash:
                raise PostingConflict(p.id)
            if known is None and p not in fresh:
                fresh.append(p)
        for p in fresh:
            if p.reverses in self.reversed:
                raise AlreadyReversed(p.id)
        updated = {
            code: self.state(code).apply(change) for code, change in net_by_account(fresh).items()
        }
        self.accounts.update(updated)
        for p in fresh:
            self.postings[p.id] = p
            if p.reverses:
                self.reversed.add(p.reverses)


def nth(items: list[str], k: int) -> str | None:
    return items[k % len(items)] if items else None


async def run(
    uow_factory: UnitOfWorkFactory, model: Model, operations: list[tuple[object, ...]]
) -> None:
    counter = 0

    def new_id(kind: str) -> str:
        nonlocal counter
        counter += 1
        return f"{model.prefix}:{kind}:{counter}"

    async def both(expect_call: object, db_call: object) -> None:
        expected: type[Exception] | None = None
        try:
            expect_call()  # type: ignore[operator]
        except LedgerError as exc:
            expected = type(exc)
        raised: type[Exception] | None = None
        async with uow_factory() as uow:
            try:
                await db_call(uow)  # type: ignore[operator]
            except LedgerError as exc:
                raised = type(exc)
            else:
                await uow.commit()
        assert raised is expected, f"ledger raised {raised}, the model {expected}"

    for op in operations:
        kind = op[0]
        if kind in ("top_up", "fare"):
            if kind == "top_up":
                debit, credit, amount = model.clearing, model.wallet(op[1]), op[2]  # type: ignore[arg-type]
            else:
                debit, credit, amount = model.wallet(op[1]), model.operator(op[2]), op[3]  # type: ignore[arg-type]
            posting = Posting.transfer(
                new_id(kind),
                debit=debit,
                credit=credit,
                amount=Money(amount, "VND"),
                occurred_at=AT,
            )  # type: ignore[arg-type]
            await both(
                lambda p=posting: model.apply([p]), lambda uow, p=posting: uow.ledger.post(p)
            )
        elif kind in ("retry", "conflict", "reverse"):
            original_id = nth([pid for pid, p in model.postings.items() if not p.reverses], op[1])  # type: ignore[arg-type]
            if original_id is None:
                continue
            original = model.postings[original_id]
            if kind == "retry":
                await both(
                    lambda o=original: model.apply([o]), lambda uow, o=original: uow.ledger.post(o)
                )
            elif kind == "conflict":
                first = original.entries[0]
                other = Posting.transfer(
                    original.id,
                    debit=original.entries[1].account,
                    credit=first.account,
                    amount=Money(abs(first.amount.amount) + 1, "VND"),
                    occurred_at=AT,
                )
                await both(
                    lambda o=other: model.apply([o]), lambda uow, o=other: uow.ledger.post(o)
                )
            else:
                rev_id = f"{original_id}:rev{op[2]}"
                reversal = original.reversal(rev_id, occurred_at=AT)
                await both(
                    lambda r=reversal: model.apply([r]),
                    lambda uow, o=original_id, r=rev_id: uow.ledger.reverse(o, r, at=AT),
                )
        elif kind == "batch":
            batch = [
                Posting.transfer(
                    new_id("batch"),
                    debit=model.wallet(w),
                    credit=model.operator("bus"),
                    amount=Money(a, "VND"),
                    occurred_at=AT,
                )
                for w, a in op[1]  # type: ignore[attr-defined]
            ]
            await both(lambda b=batch: model.apply(b), lambda uow, b=batch: uow.ledger.post_many(b))
        elif kind == "hold":
            hold = Hold(
                new_id("hold"),
                model.wallet(op[1]),
                model.operator("parking"),
                Money(op[2], "VND"),
                AT,
            )  # type: ignore[arg-type]

            def expect_hold(h: Hold = hold) -> None:
                model.accounts[h.debit] = model.state(h.debit).reserve(h.amount)
                model.holds[h.id] = h

            await both(
                expect_hold,
                lambda uow, h=hold: uow.ledger.hold(
                    h.id, debit=h.debit, credit=h.credit, amount=h.amount, at=AT
                ),
            )
        elif kind in ("capture", "void"):
            hold_id = nth(sorted(model.holds), op[1])  # type: ignore[arg-type]
            if hold_id is None:
                continue
            hold = model.holds[hold_id]
            if kind == "capture":
                amount = Money(max(1, int(hold.amount.amount * op[2])), "VND")  # type: ignore[operator]

                def expect_capture(h: Hold = hold, a: Money = amount) -> None:
                    if h.status is HoldStatus.CAPTURED and h.captured_amount == a:
                        return
                    captured, posting = h.capture(f"{h.id}:capture", a, AT)
                    released = model.state(h.debit).release(h.amount)
                    saved = dict(model.accounts)
                    model.accounts[h.debit] = released
                    try:
                        model.apply([posting])
                    except LedgerError:
                        model.accounts = saved
                        raise
                    model.holds[h.id] = captured

                await both(
                    expect_capture,
                    lambda uow, h=hold, a=amount: uow.ledger.capture_hold(h.id, a, at=AT),
                )
            else:

                def expect_void(h: Hold = hold) -> None:
                    if h.status is HoldStatus.VOIDED:
                        return
                    voided = h.void(AT)
                    model.accounts[h.debit] = model.state(h.debit).release(h.amount)
                    model.holds[h.id] = voided

                await both(expect_void, lambda uow, h=hold: uow.ledger.void_hold(h.id, at=AT))

    async with uow_factory() as uow:
        for code, expected in model.accounts.items():
            stored = await uow.ledger.account(code)
            assert (stored.balance, stored.pending_debits) == (
                expected.balance,
                expected.pending_debits,
            ), code
            if stored.kind.has_floor:
                assert stored.balance + stored.pending_debits <= 0
        report = await uow.ledger.check_invariants()
        assert report.ok, report.to_json()


async def _example(db_url: str, operations: list[tuple[object, ...]]) -> None:
    engine = create_engine(db_url)
    try:
        await run(UnitOfWorkFactory(engine), Model(uuid.uuid4().hex[:8]), operations)
    finally:
        await engine.dispose()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(ops, min_size=1, max_size=25))
def test_any_sequence_keeps_the_books_balanced_and_wallets_funded(
    db_url: str, operations: list[tuple[object, ...]]
) -> None:
    asyncio.run(_example(db_url, operations))


_ = UnitOfWork  # the type the lambdas above receive
