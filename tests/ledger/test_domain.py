"""The ledger's pure rules: balanced postings, reversals, body hashes, floors and holds."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing.errors import TicketingError
from ticketing.ledger import (
    AccountKind,
    AccountState,
    AccountType,
    CurrencyMismatch,
    Entry,
    Hold,
    HoldError,
    HoldStatus,
    InsufficientFunds,
    InvalidAccountCode,
    InvalidPosting,
    Posting,
    UnbalancedPosting,
    accounts,
    net_by_account,
    net_by_currency,
    parse_code,
)
from ticketing.money import Money

AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


def vnd(amount: int) -> Money:
    return Money(amount, "VND")


def fare(posting_id: str = "fare:1", amount: int = 15_000) -> Posting:
    return Posting.transfer(
        posting_id,
        debit=accounts.wallet("a1"),
        credit=accounts.operator("metro-2a"),
        amount=vnd(amount),
        occurred_at=AT,
    )


def test_account_codes_round_trip_through_the_parser() -> None:
    cases = {
        accounts.wallet("a1"): (AccountKind.WALLET, "a1"),
        accounts.receivable("a1"): (AccountKind.RECEIVABLE, "a1"),
        accounts.operator("bus"): (AccountKind.OPERATOR, "bus"),
        accounts.gateway_clearing("stripe"): (AccountKind.GATEWAY_CLEARING, "stripe"),
        accounts.gateway_fees("stripe"): (AccountKind.GATEWAY_FEES, "stripe"),
        accounts.suspense("stripe"): (AccountKind.SUSPENSE, "stripe"),
        accounts.unearned("passes"): (AccountKind.UNEARNED, "passes"),
        accounts.BREAKAGE: (AccountKind.REVENUE, "breakage"),
        accounts.carried("balances"): (AccountKind.CARRIED, "balances"),
    }
    for code, (kind, owner) in cases.items():
        ref = parse_code(code)
        assert (ref.kind, ref.owner) == (kind, owner)
    assert accounts.gateway_clearing("stripe") == "gateway:stripe:clearing"
    assert AccountKind.WALLET.account_type is AccountType.LIABILITY
    assert AccountKind.GATEWAY_CLEARING.account_type.debit_normal


@pytest.mark.parametrize(
    "code", ["", "wallet", "wallet:", "wallet:a:b", "shop:x", "gateway:s:x", "wallet:a b"]
)
def test_malformed_account_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidAccountCode):
        parse_code(code)


def test_builders_refuse_segments_with_separators() -> None:
    with pytest.raises(InvalidAccountCode):
        accounts.wallet("a:1")


def test_unbalanced_posting_cannot_be_built_and_is_a_ticketing_error() -> None:
    with pytest.raises(UnbalancedPosting) as caught:
        Posting("p", (Entry.debit("wallet:a", vnd(10)), Entry.credit("operator:b", vnd(9))), AT)
    assert isinstance(caught.value, TicketingError)


def test_each_currency_must_balance_on_its_own() -> None:
    entries = (
        Entry.debit("wallet:a", vnd(10)),
        Entry.credit("operator:b", Money(10, "USD")),
    )
    with pytest.raises(UnbalancedPosting):
        Posting("p", entries, AT)
    usd = Money(10, "USD")
    both = (*entries, Entry.credit("operator:c", vnd(10)), Entry.debit("wallet:d", usd))
    assert net_by_currency(Posting("p", both, AT).entries) == {"VND": 0, "USD": 0}


@pytest.mark.parametrize(
    "build",
    [
        lambda: Entry("wallet:a", vnd(0)),
        lambda: Entry.debit("wallet:a", vnd(-5)),
        lambda: Entry.credit("wallet:a", vnd(0)),
        lambda: Posting("", fare().entries, AT),
        lambda: Posting(" p", fare().entries, AT),
        lambda: Posting("p", fare().entries, datetime(2025, 3, 1)),
        lambda: Posting("p", fare().entries[:1], AT),
        lambda: Posting("p", fare().entries, AT, metadata={"x": 1.5}),  # type: ignore[dict-item]
        lambda: Posting("p", fare().entries, AT, reverses="p"),
    ],
)
def test_malformed_postings_are_refused(build: object) -> None:
    with pytest.raises(InvalidPosting):
        build()  # type: ignore[operator]


def test_body_hash_ignores_entry_order_and_sees_every_field() -> None:
    base = fare()
    swapped = Posting(base.id, tuple(reversed(base.entries)), base.occurred_at)
    assert swapped.body_hash == base.body_hash
    same_instant = Posting(base.id, base.entries, AT.astimezone(timezone_plus7()))
    assert same_instant.body_hash == base.body_hash
    variants = [
        fare(amount=14_000),
        Posting(base.id, base.entries, AT + timedelta(seconds=1)),
        Posting(base.id, base.entries, AT, description="x"),
        Posting(base.id, base.entries, AT, metadata={"k": "v"}),
        Posting(base.id, base.entries, AT, reverses="other"),
    ]
    assert len({v.body_hash for v in variants} | {base.body_hash}) == len(variants) + 1


def timezone_plus7() -> timezone:
    return timezone(timedelta(hours=7))


def test_reversal_negates_every_entry_and_names_the_original() -> None:
    # Two lines on one account: a set comparison would not see one of them dropped.
    original = Posting(
        "fare:1",
        (
            Entry.debit("wallet:a", vnd(10_000)),
            Entry.debit("wallet:a", vnd(5_000)),
            Entry.credit("operator:m", vnd(15_000)),
        ),
        AT,
        "fares",
        {"account": "a"},
    )
    reversal = original.reversal("fare:1:rev", occurred_at=AT + timedelta(hours=1))
    assert reversal.reverses == "fare:1"
    assert (reversal.id, reversal.occurred_at) == ("fare:1:rev", AT + timedelta(hours=1))
    assert (reversal.description, dict(reversal.metadata)) == ("reversal of fare:1", {})
    assert Counter((e.account, e.amount.amount) for e in reversal.entries) == Counter(
        {("wallet:a", -10_000): 1, ("wallet:a", -5_000): 1, ("operator:m", 15_000): 1}
    )
    assert reversal.body_hash != original.body_hash


codes = st.sampled_from(["wallet:a", "wallet:b", "operator:m", "gateway:s:clearing", "suspense:x"])
currencies = st.sampled_from(["VND", "USD"])


@st.composite
def balanced_postings(draw: st.DrawFn, currency: str, posting_id: str = "p") -> Posting:
    amounts = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=4))
    debits = [Entry.debit(draw(codes), Money(a, currency)) for a in amounts]
    credit = Entry.credit(draw(codes), Money(sum(amounts), currency))
    return Posting(posting_id, (*debits, credit), AT)


def body_lines(posting: Posting) -> Counter[tuple[str, str, int]]:
    """The entries as the stored body says them (an independent reading of the posting)."""
    return Counter(tuple(line) for line in json.loads(posting.canonical_body())["entries"])


# One currency per example: accounts are single-currency in the ledger, so postings mixing them
# would only reach the refusal (tested on its own below), never the balances.
@given(currencies.flatmap(lambda c: st.lists(balanced_postings(c), max_size=20)))
def test_any_postings_and_their_reversals_net_to_zero_everywhere(postings: list[Posting]) -> None:
    reversals = [p.reversal(p.id + ":r", occurred_at=AT) for p in postings]
    for posting, reversal in zip(postings, reversals, strict=True):
        mirrored = Counter({(a, c, -n): k for (a, c, n), k in body_lines(posting).items()})
        assert body_lines(reversal) == mirrored
        assert body_lines(reversal.reversal("again", occurred_at=AT)) == body_lines(posting)
    net = net_by_account(postings + reversals)
    assert set(net) == {e.account for p in postings for e in p.entries}
    assert all(m.amount == 0 for m in net.values())


def test_netting_refuses_an_account_used_in_two_currencies() -> None:
    usd = Posting.transfer(
        "usd", debit="wallet:a1", credit="operator:metro-2a", amount=Money(1, "USD"), occurred_at=AT
    )
    with pytest.raises(CurrencyMismatch):
        net_by_account([fare(), usd])


def test_wallet_floor_refuses_debits_past_the_overdraft_limit() -> None:
    wallet = AccountState.new("wallet:a", "VND").apply(vnd(-20_000))  # topped up 20,000
    assert wallet.normal_balance == vnd(20_000)
    assert wallet.apply(vnd(20_000)).normal_balance == vnd(0)
    with pytest.raises(InsufficientFunds) as caught:
        wallet.apply(vnd(20_001))
    assert (caught.value.available, caught.value.requested) == (20_000, 20_001)
    lenient = AccountState.new("wallet:b", "VND", overdraft_limit=5_000)
    assert lenient.apply(vnd(5_000)).normal_balance == vnd(-5_000)
    with pytest.raises(InsufficientFunds):
        lenient.apply(vnd(5_001))


def test_credits_lift_an_overdrawn_wallet_and_other_kinds_have_no_floor() -> None:
    overdrawn = AccountState("wallet:a", AccountKind.WALLET, "VND", balance=9_000)
    assert overdrawn.apply(vnd(-1_000)).balance == 8_000
    receivable = AccountState.new("receivable:a", "VND")
    assert receivable.apply(vnd(10**12)).normal_balance == vnd(10**12)
    with pytest.raises(CurrencyMismatch):
        receivable.apply(Money(1, "USD"))


@given(st.lists(st.integers(-50_000, 50_000).filter(bool), max_size=40), st.integers(0, 20_000))
def test_a_wallet_never_drops_below_its_limit(changes: list[int], limit: int) -> None:
    wallet = AccountState.new("wallet:a", "VND", overdraft_limit=limit)
    for change in changes:
        try:
            wallet = wallet.apply(vnd(change))
        except InsufficientFunds:
            assert change > 0
        assert wallet.balance <= limit


def test_holds_reserve_funds_under_the_floor() -> None:
    wallet = AccountState.new("wallet:a", "VND").apply(vnd(-30_000))
    held = wallet.reserve(vnd(25_000))
    assert held.available == 5_000
    with pytest.raises(InsufficientFunds):
        held.apply(vnd(5_001))
    with pytest.raises(InsufficientFunds):
        held.reserve(vnd(5_001))
    assert held.release(vnd(25_000)) == wallet


def parking_hold() -> Hold:
    return Hold("park:1", accounts.wallet("a"), accounts.operator("parking"), vnd(25_000), AT)


def test_capture_posts_at_most_the_held_amount() -> None:
    hold = parking_hold()
    captured, posting = hold.capture("park:1:exit", vnd(20_000), AT + timedelta(hours=2))
    assert captured.status is HoldStatus.CAPTURED
    assert captured.captured_amount == vnd(20_000)
    assert captured.posting_id == posting.id == "park:1:exit"
    assert net_by_account([posting]) == {"wallet:a": vnd(20_000), "operator:parking": vnd(-20_000)}
    for bad in (vnd(25_001), vnd(0), Money(1, "USD")):
        with pytest.raises(HoldError):
            hold.capture("x", bad, AT)
    with pytest.raises(HoldError):
        captured.capture("again", vnd(1), AT)
    with pytest.raises(HoldError):
        captured.void(AT)


def test_void_releases_and_is_final() -> None:
    voided = parking_hold().void(AT)
    assert voided.status is HoldStatus.VOIDED
    with pytest.raises(HoldError):
        voided.capture("x", vnd(1), AT)
    with pytest.raises(HoldError):
        voided.void(AT)


def test_hold_body_hash_changes_with_amount() -> None:
    hold = parking_hold()
    other = Hold(hold.id, hold.debit, hold.credit, vnd(1), hold.created_at)
    assert hold.body_hash != other.body_hash
    assert hold.body_hash == parking_hold().body_hash
