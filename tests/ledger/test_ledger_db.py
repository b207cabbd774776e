"""The stored ledger on SQLite and PostgreSQL: idempotency, conflicts, floors, reversals,
batches, holds, concurrency and the invariant report."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.helpers.databases import wait_until_blocking
from ticketing.ledger import (
    AlreadyReversed,
    CurrencyMismatch,
    Entry,
    HoldError,
    HoldStatus,
    InsufficientFunds,
    InvalidPosting,
    Posting,
    PostingConflict,
    UnknownAccount,
    UnknownPosting,
    accounts,
)
from ticketing.money import Money
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

AT = datetime(2025, 3, 1, 1, 30, tzinfo=UTC)
CLEARING = accounts.gateway_clearing("stripe")
METRO = accounts.operator("metro-2a")
WALLET = accounts.wallet("a1")


def vnd(amount: int) -> Money:
    return Money(amount, "VND")


def top_up(posting_id: str, amount: int, wallet: str = WALLET) -> Posting:
    return Posting.transfer(
        posting_id, debit=CLEARING, credit=wallet, amount=vnd(amount), occurred_at=AT
    )


def fare(posting_id: str, amount: int, wallet: str = WALLET) -> Posting:
    return Posting.transfer(
        posting_id, debit=wallet, credit=METRO, amount=vnd(amount), occurred_at=AT
    )


async def balances(uow_factory: UnitOfWorkFactory, *codes: str) -> list[int]:
    async with uow_factory() as uow:
        return [(await uow.ledger.balance(code)).amount for code in codes]


async def assert_books_ok(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        report = await uow.ledger.check_invariants()
    assert report.ok, report.to_json()


async def test_reposting_is_a_no_op_returning_the_first_receipt(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        first = await uow.ledger.post(top_up("topup:1", 50_000))
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.ledger.post(top_up("topup:1", 50_000))
        await uow.commit()
    assert first.created
    assert not again.created
    assert again.recorded_at == first.recorded_at
    assert await balances(uow_factory, WALLET, CLEARING) == [50_000, 50_000]
    async with uow_factory() as uow:
        stored = await uow.ledger.get_posting("topup:1")
    assert stored.body_hash == top_up("topup:1", 50_000).body_hash
    await assert_books_ok(uow_factory)


async def test_same_id_different_body_is_refused_and_changes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 50_000))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(PostingConflict):
            await uow.ledger.post(top_up("topup:1", 60_000))
        # The savepoint kept the caller's transaction usable.
        await uow.ledger.post(top_up("topup:2", 1_000))
        await uow.commit()
    assert await balances(uow_factory, WALLET) == [51_000]


async def test_wallet_cannot_go_below_zero_and_a_refusal_writes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 10_000))
        with pytest.raises(InsufficientFunds) as caught:
            await uow.ledger.post(fare("fare:1", 15_000))
        assert caught.value.available == 10_000
        # The caller can fall back, e.g. charge the shortfall to the receivable.
        await uow.ledger.post(
            Posting(
                "fare:1",
                (
                    Entry.debit(WALLET, vnd(10_000)),
                    Entry.debit(accounts.receivable("a1"), vnd(5_000)),
                    Entry.credit(METRO, vnd(15_000)),
                ),
                AT,
            )
        )
        await uow.commit()
    assert await balances(uow_factory, WALLET, accounts.receivable("a1"), METRO) == [
        0,
        5_000,
        15_000,
    ]
    await assert_books_ok(uow_factory)


async def test_overdraft_limit_lets_a_wallet_go_that_far_below_zero(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.open_account(WALLET, "VND", overdraft_limit=8_000)
        await uow.ledger.post(fare("fare:1", 8_000))
        with pytest.raises(InsufficientFunds):
            await uow.ledger.post(fare("fare:2", 1))
        with pytest.raises(CurrencyMismatch):
            await uow.ledger.open_account(WALLET, "USD")
        await uow.commit()
    assert await balances(uow_factory, WALLET) == [-8_000]
    await assert_books_ok(uow_factory)


async def test_entry_in_a_currency_other_than_the_account_is_refused(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 10_000))
        usd = Posting.transfer(
            "usd:1", debit=CLEARING, credit=WALLET, amount=Money(5, "USD"), occurred_at=AT
        )
        with pytest.raises(CurrencyMismatch):
            await uow.ledger.post(usd)
        with pytest.raises(UnknownAccount):
            await uow.ledger.balance("wallet:nobody")


async def test_an_account_netting_to_zero_in_another_currency_is_refused(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 10_000))
        usd = Money(5, "USD")  # the other accounts are new, so only the VND wallet mismatches
        out = Posting.transfer(
            "usd:out",
            debit=accounts.gateway_clearing("usd"),
            credit=WALLET,
            amount=usd,
            occurred_at=AT,
        )
        back = Posting.transfer(
            "usd:back", debit=WALLET, credit=accounts.operator("usd"), amount=usd, occurred_at=AT
        )
        with pytest.raises(CurrencyMismatch):
            await uow.ledger.post_many([out, back])
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.ledger.find_posting("usd:out") is None
    assert await balances(uow_factory, WALLET) == [10_000]


async def test_post_reversal_checks_the_original_it_is_given(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 20_000))
        await uow.ledger.post(fare("fare:1", 15_000))
        original = await uow.ledger.get_posting("fare:1")
        other = await uow.ledger.get_posting("topup:1")
        reversal = original.reversal("fare:1:rev", occurred_at=AT)
        with pytest.raises(InvalidPosting):
            await uow.ledger.post_reversal(reversal, other)
        forged = Posting(
            "forged",
            (Entry.debit(METRO, vnd(1)), Entry.credit(WALLET, vnd(1))),
            AT,
            reverses="fare:1",
        )
        with pytest.raises(InvalidPosting):
            await uow.ledger.post_reversal(forged, original)
        first = await uow.ledger.post_reversal(reversal, original)
        again = await uow.ledger.post_reversal(reversal, original)
        await uow.commit()
    assert (first.created, again.created) == (True, False)
    assert await balances(uow_factory, WALLET, METRO) == [20_000, 0]
    await assert_books_ok(uow_factory)


async def test_reversal_restores_balances_once(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 20_000))
        await uow.ledger.post(fare("fare:1", 15_000))
        first = await uow.ledger.reverse("fare:1", "fare:1:rev", at=AT + timedelta(hours=1))
        await uow.commit()
    async with uow_factory() as uow:
        retry = await uow.ledger.reverse("fare:1", "fare:1:rev", at=AT + timedelta(hours=5))
        with pytest.raises(AlreadyReversed):
            await uow.ledger.reverse("fare:1", "fare:1:rev2")
        with pytest.raises(UnknownPosting):
            await uow.ledger.reverse("nope", "nope:rev")
        await uow.commit()
    assert first.created
    assert not retry.created
    assert await balances(uow_factory, WALLET, METRO) == [20_000, 0]
    async with uow_factory() as uow:
        assert (await uow.ledger.get_posting("fare:1:rev")).reverses == "fare:1"
    await assert_books_ok(uow_factory)


async def test_a_forged_reversal_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 20_000))
        forged = Posting(
            "forged",
            (Entry.debit(METRO, vnd(1)), Entry.credit(WALLET, vnd(1))),
            AT,
            reverses="topup:1",
        )
        with pytest.raises(InvalidPosting):
            await uow.ledger.post(forged)


async def test_reversing_a_spent_top_up_respects_the_floor(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 20_000))
        await uow.ledger.post(fare("fare:1", 15_000))
        with pytest.raises(InsufficientFunds):
            await uow.ledger.reverse("topup:1", "refund:1")


async def test_post_many_is_idempotent_per_posting_and_all_or_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 100_000))
        await uow.commit()
    batch = [fare(f"fare:{i}", 1_000) for i in range(50)]
    async with uow_factory() as uow:
        receipts = await uow.ledger.post_many([top_up("topup:1", 100_000), *batch, batch[0]])
        await uow.commit()
    assert [r.posting_id for r in receipts] == ["topup:1", *(p.id for p in batch), "fare:0"]
    assert [r.created for r in receipts] == [False] + [True] * 50 + [True]
    async with uow_factory() as uow:
        again = await uow.ledger.post_many(batch)
        with pytest.raises(PostingConflict):
            await uow.ledger.post_many([fare("fare:new", 1), fare("fare:3", 999)])
        with pytest.raises(PostingConflict):
            await uow.ledger.post_many([fare("dup", 1), fare("dup", 2)])
        with pytest.raises(InsufficientFunds):
            await uow.ledger.post_many([fare("big:1", 30_000), fare("big:2", 30_000)])
        await uow.commit()
    assert not any(r.created for r in again)
    assert await balances(uow_factory, WALLET, METRO) == [50_000, 50_000]
    async with uow_factory() as uow:
        assert await uow.ledger.find_posting("fare:new") is None
    await assert_books_ok(uow_factory)


async def test_hold_reserves_then_captures_at_most_the_held_amount(
    uow_factory: UnitOfWorkFactory,
) -> None:
    parking = accounts.operator("parking")
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 30_000))
        hold = await uow.ledger.hold(
            "park:1", debit=WALLET, credit=parking, amount=vnd(25_000), at=AT
        )
        assert hold.status is HoldStatus.PENDING
        assert (await uow.ledger.account(WALLET)).available == 5_000
        with pytest.raises(InsufficientFunds):
            await uow.ledger.post(fare("fare:1", 6_000))
        with pytest.raises(InsufficientFunds):
            await uow.ledger.hold("park:2", debit=WALLET, credit=parking, amount=vnd(5_001))
        assert (
            await uow.ledger.hold("park:1", debit=WALLET, credit=parking, amount=vnd(25_000))
        ) == hold
        with pytest.raises(HoldError):
            await uow.ledger.hold("park:1", debit=WALLET, credit=parking, amount=vnd(1))
        with pytest.raises(HoldError):
            await uow.ledger.capture_hold("park:1", vnd(25_001))
        receipt = await uow.ledger.capture_hold("park:1", vnd(20_000), at=AT + timedelta(hours=2))
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.ledger.capture_hold("park:1", vnd(20_000))
        with pytest.raises(HoldError):
            await uow.ledger.capture_hold("park:1", vnd(19_000))
        with pytest.raises(HoldError):
            await uow.ledger.void_hold("park:1")
        state = await uow.ledger.account(WALLET)
        await uow.commit()
    assert receipt.created
    assert (again.created, again.posting_id) == (False, "park:1:capture")
    assert (state.normal_balance, state.pending_debits) == (vnd(10_000), 0)
    assert await balances(uow_factory, parking) == [20_000]
    await assert_books_ok(uow_factory)


async def test_void_releases_the_hold_and_is_idempotent(uow_factory: UnitOfWorkFactory) -> None:
    parking = accounts.operator("parking")
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 30_000))
        await uow.ledger.hold("park:1", debit=WALLET, credit=parking, amount=vnd(25_000))
        voided = await uow.ledger.void_hold("park:1", at=AT)
        assert (await uow.ledger.void_hold("park:1")) == voided
        with pytest.raises(HoldError):
            await uow.ledger.capture_hold("park:1", vnd(1))
        with pytest.raises(HoldError):
            await uow.ledger.void_hold("park:unknown")
        await uow.commit()
    async with uow_factory() as uow:
        state = await uow.ledger.account(WALLET)
    assert (state.available, state.pending_debits) == (30_000, 0)
    await assert_books_ok(uow_factory)


async def test_concurrent_posting_of_one_id_records_it_once(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 15_000))
        await uow.commit()

    async def attempt(amount: int) -> bool:
        async with uow_factory() as uow:
            receipt = await uow.ledger.post(fare("fare:1", amount))
            await uow.commit()
            return receipt.created

    results = await asyncio.gather(*(attempt(15_000) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    conflicting = await asyncio.gather(*(attempt(1_000) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, PostingConflict) for r in conflicting)
    assert await balances(uow_factory, WALLET, METRO) == [0, 15_000]
    await assert_books_ok(uow_factory)


async def test_concurrent_spending_never_overdraws(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 100_000))
        await uow.commit()

    async def spend(i: int) -> bool:
        async with uow_factory() as uow:
            try:
                await uow.ledger.post(fare(f"fare:{i}", 30_000))
            except InsufficientFunds:
                return False
            await uow.commit()
            return True

    results = await asyncio.gather(*(spend(i) for i in range(10)))
    assert sum(results) == 3
    assert await balances(uow_factory, WALLET) == [10_000]
    await assert_books_ok(uow_factory)


async def test_invariant_report_catches_rows_written_behind_the_ledger(
    uow_factory: UnitOfWorkFactory, db_backend: str
) -> None:
    async with uow_factory() as uow:
        await uow.ledger.post(top_up("topup:1", 10_000))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.session.execute(
            text("UPDATE ledger_accounts SET balance = 0 WHERE code = :c"), {"c": WALLET}
        )
        await uow.commit()
    async with uow_factory() as uow:
        report = await uow.ledger.check_invariants()
    assert not report.ok
    assert [c.name for c in report.failures] == ["account_balances_match_entries"]
    assert WALLET in report.failures[0].detail
    if db_backend == "sqlite":  # PostgreSQL refuses this write outright (see the next test)
        async with uow_factory() as uow:
            await uow.session.execute(
                text(
                    "INSERT INTO entries (posting_id, account_code, amount, currency)"
                    " VALUES ('topup:1', :c, 5, 'VND')"
                ),
                {"c": WALLET},
            )
            await uow.commit()
        async with uow_factory() as uow:
            report = await uow.ledger.check_invariants()
        assert not report.trial_balance.balanced
        assert "postings_balanced" in {c.name for c in report.failures}


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgresql"])
async def test_postgres_refuses_unbalanced_postings_written_behind_the_ledger(
    uow_factory: UnitOfWorkFactory,
) -> None:
    insert_posting = text(
        "INSERT INTO postings (id, body_hash, occurred_at, recorded_at, description, metadata)"
        " VALUES (:id, 'x', now(), now(), '', '{}')"
    )
    insert_account = text(
        "INSERT INTO ledger_accounts (code, kind, currency, balance, pending_debits,"
        " overdraft_limit, created_at) VALUES (:c, 'wallet', 'VND', 0, 0, 0, now())"
    )
    insert_entries = text(  # a posting's entries in one statement, as the ledger writes them
        "INSERT INTO entries (posting_id, account_code, amount, currency)"
        " VALUES (:p, 'wallet:x', :a, 'VND'), (:p, 'wallet:y', :b, 'VND')"
    )
    async with uow_factory() as uow:  # balanced raw writes pass
        await uow.session.execute(insert_account, [{"c": "wallet:x"}, {"c": "wallet:y"}])
        await uow.session.execute(insert_posting, {"id": "raw:ok"})
        await uow.session.execute(insert_entries, {"p": "raw:ok", "a": 5, "b": -5})
        await uow.commit()
    async with uow_factory() as uow:
        await uow.session.execute(insert_posting, {"id": "raw:bad"})
        with pytest.raises(DBAPIError, match="does not balance"):
            await uow.session.execute(insert_entries, {"p": "raw:bad", "a": 5, "b": -4})
    async with uow_factory() as uow:  # each statement must balance: no repairing it later
        await uow.session.execute(insert_posting, {"id": "raw:split"})
        with pytest.raises(DBAPIError, match="does not balance"):
            await uow.session.execute(
                text(
                    "INSERT INTO entries (posting_id, account_code, amount, currency)"
                    " VALUES ('raw:split', 'wallet:x', 5, 'VND')"
                )
            )
    async with uow_factory() as uow:
        await uow.session.execute(insert_posting, {"id": "raw:empty"})
        with pytest.raises(DBAPIError, match="fewer than two entries"):
            await uow.commit()
    for statement in (
        "UPDATE entries SET amount = 6 WHERE posting_id = 'raw:ok'",
        "DELETE FROM postings",
    ):
        async with uow_factory() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(text(statement))
    async with uow_factory() as uow:
        stored = await uow.ledger.find_posting("raw:ok")
        assert await uow.ledger.find_posting("raw:bad") is None
        assert await uow.ledger.find_posting("raw:split") is None
        assert (await uow.ledger.trial_balance()).balanced
    assert stored is not None
    assert stored.entries == (Entry("wallet:x", vnd(5)), Entry("wallet:y", vnd(-5)))


# SQLite runs one writer at a time (BEGIN IMMEDIATE): lock cycles form on PostgreSQL only.
@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgresql"])
async def test_own_id_then_a_shared_one_against_a_batch_with_the_shared_id_does_not_deadlock(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """One transaction posts its own id, then a shared one; another posts the shared id in a
    batch. Accounts are locked before posting ids, so the batch queues on the operator's row
    without holding the shared id, and both land, once each, on their first attempt."""
    own_1, own_2 = (fare(f"own:{n}", 1_000, accounts.receivable(f"r{n}")) for n in (1, 2))
    shared = fare("shared:1", 1_000, accounts.receivable("shared"))
    first_posted = asyncio.Event()

    async def own_then_shared(uow: UnitOfWork) -> None:
        await uow.ledger.post(own_1)  # locks the operator's row until commit
        first_posted.set()
        await wait_until_blocking(uow_factory, uow.session)
        await uow.ledger.post(shared)

    async def batch(uow: UnitOfWork) -> None:
        await first_posted.wait()
        await uow.ledger.post_many([shared, own_2])

    await asyncio.wait_for(
        asyncio.gather(
            run_in_uow(uow_factory, own_then_shared, attempts=1),
            run_in_uow(uow_factory, batch, attempts=1),
        ),
        timeout=60,
    )
    assert await balances(uow_factory, METRO) == [3_000]
    await assert_books_ok(uow_factory)


# SQLite runs one writer at a time (BEGIN IMMEDIATE): lock cycles form on PostgreSQL only.
@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgresql"])
async def test_a_deadlock_victim_is_run_again_by_run_in_uow(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Two transactions of two calls each lock two accounts in opposite orders: PostgreSQL
    aborts one, and `run_in_uow` runs it again in a fresh unit of work."""
    wallet_a, wallet_b = accounts.receivable("a"), accounts.receivable("b")
    attempts: Counter[str] = Counter()
    first_locked = asyncio.Event()

    def use_case(
        name: str, first: str, second: str, *, leads: bool
    ) -> Callable[[UnitOfWork], Awaitable[None]]:
        def owes(n: int, receivable: str) -> Posting:
            return Posting.transfer(
                f"{name}:{n}",
                debit=receivable,
                credit=accounts.operator(name),
                amount=vnd(1_000),
                occurred_at=AT,
            )

        async def run(uow: UnitOfWork) -> None:
            attempts[name] += 1
            first_run = attempts[name] == 1
            if first_run and not leads:
                await first_locked.wait()
            await uow.ledger.post(owes(1, first))
            if first_run and leads:
                first_locked.set()
                await wait_until_blocking(uow_factory, uow.session)
            await uow.ledger.post(owes(2, second))

        return run

    await asyncio.wait_for(
        asyncio.gather(
            run_in_uow(uow_factory, use_case("ab", wallet_a, wallet_b, leads=True)),
            run_in_uow(uow_factory, use_case("ba", wallet_b, wallet_a, leads=False)),
        ),
        timeout=60,
    )
    assert sum(attempts.values()) == 3  # the cycle formed; its victim ran a second time
    assert await balances(uow_factory, wallet_a, wallet_b) == [2_000, 2_000]
    await assert_books_ok(uow_factory)


async def test_run_in_uow_gives_up_on_other_errors_at_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    calls = 0

    async def conflicting(uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await uow.ledger.post(fare("x:1", 1_000))

    with pytest.raises(InsufficientFunds):
        await run_in_uow(uow_factory, conflicting)
    assert calls == 1
