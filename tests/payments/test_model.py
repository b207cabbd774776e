"""The payments model's transition table, as properties over any sequence of events: an attempt
only moves forward, a final answer is never overturned, it posts at most once, and the order in
which the call's answer, retries and webhooks arrive does not change where it ends."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.protocol import Payment, PaymentStatus
from ticketing.money import Money
from ticketing.payments.errors import GatewayMismatch
from ticketing.payments.model import (
    TRANSITIONS,
    AttemptEvent,
    AttemptStatus,
    Authorised,
    Declined,
    Paid,
    PaymentAttempt,
    PaymentPurpose,
    Recovered,
    Unanswered,
    advance,
    answer,
)

NOW = datetime(2026, 11, 24, 8, tzinfo=UTC)
# How far along each status is: a transition never goes to a lower rank.
RANK = {
    AttemptStatus.PENDING: 0,
    AttemptStatus.UNKNOWN: 1,
    AttemptStatus.SUCCEEDED: 2,
    AttemptStatus.FAILED: 2,
    AttemptStatus.RECOVERED: 3,
}
payment_ids = st.sampled_from(["pi_1", "pi_2", "pi_3"])
events: st.SearchStrategy[AttemptEvent] = st.one_of(
    st.builds(Unanswered, st.none() | payment_ids),
    st.builds(Authorised, payment_ids),
    st.builds(Declined, st.none() | payment_ids, st.sampled_from(["card_declined", "expired"])),
    st.builds(Paid, payment_ids, st.just("payment:a")),
    st.just(Recovered()),
)


def attempt(status: AttemptStatus = AttemptStatus.PENDING, **fields: object) -> PaymentAttempt:
    values: dict[str, object] = {
        "id": "a",
        "purpose": PaymentPurpose.DAILY_CHARGE,
        "account_id": "acc",
        "amount": Money(27_000, "VND"),
        "created_at": NOW,
        "updated_at": NOW,
        "status": status,
        "service_day": date(2026, 11, 24),
        "charge_key": "a",
    }
    return PaymentAttempt(**(values | fields))  # type: ignore[arg-type]


def run(start: PaymentAttempt, sequence: Sequence[AttemptEvent]) -> list[PaymentAttempt]:
    seen = [start]
    for event in sequence:
        seen.append(advance(seen[-1], event))
    return seen


@given(st.sampled_from(AttemptStatus), st.lists(events, max_size=12))
def test_an_attempt_only_moves_forward(status: AttemptStatus, sequence: list[AttemptEvent]) -> None:
    seen = run(attempt(status), sequence)
    for before, after in itertools.pairwise(seen):
        assert RANK[after.status] >= RANK[before.status]
        if before.status is AttemptStatus.SUCCEEDED or before.status is AttemptStatus.RECOVERED:
            assert after == before  # nothing moves a paid attempt
        if before.status is AttemptStatus.FAILED:
            assert after.status in (AttemptStatus.FAILED, AttemptStatus.RECOVERED)


@given(st.lists(events, max_size=12))
def test_a_fresh_attempt_posts_once_and_ends_where_its_first_final_answer_says(
    sequence: list[AttemptEvent],
) -> None:
    end = run(attempt(), sequence)[-1]
    finals = [e for e in sequence if isinstance(e, Paid | Declined)]
    if not finals:
        unanswered = any(isinstance(e, Unanswered) for e in sequence)
        assert end.status is (AttemptStatus.UNKNOWN if unanswered else AttemptStatus.PENDING)
        assert end.posting_id is None
        return
    first = finals[0]
    if isinstance(first, Paid):
        assert end.status is AttemptStatus.SUCCEEDED
        assert (end.gateway_payment_id, end.posting_id) == (
            first.gateway_payment_id,
            first.posting_id,
        )
        assert end.decline_code is None
    else:
        declined_at = sequence.index(first)
        recovered = any(isinstance(e, Recovered) for e in sequence[declined_at:])
        assert end.status is (AttemptStatus.RECOVERED if recovered else AttemptStatus.FAILED)
        assert end.decline_code == first.decline_code
        assert end.posting_id is None


@pytest.mark.parametrize(
    ("final", "status"),
    [
        (Paid("pi_1", "payment:a"), AttemptStatus.SUCCEEDED),
        (Declined("pi_1", "card_declined"), AttemptStatus.FAILED),
    ],
)
@given(
    open_answers=st.lists(st.builds(Unanswered, st.none() | st.just("pi_1")), max_size=6),
    data=st.data(),
)
def test_open_answers_arriving_around_the_final_one_in_any_order_change_nothing(
    final: AttemptEvent, status: AttemptStatus, open_answers: list[Unanswered], data: st.DataObject
) -> None:
    """The call's answer, a retry's lookup and a webhook race: in whatever order the answers
    that know nothing yet arrive around the final one, the attempt ends as that one says."""
    order = data.draw(st.permutations([*open_answers, final]))
    end = run(attempt(), order)[-1]
    assert end.status is status
    assert end.gateway_payment_id == "pi_1"


@given(payment_ids, st.lists(st.builds(Authorised, payment_ids), max_size=5))
def test_the_first_authorisation_recorded_is_kept(first: str, later: list[Authorised]) -> None:
    end = run(attempt(), [Authorised(first), *later])[-1]
    assert end.gateway_payment_id == first
    assert end.status is AttemptStatus.PENDING


def test_every_listed_transition_is_forward_and_only_failed_charges_recover() -> None:
    for (before, event), after in TRANSITIONS.items():
        assert RANK[after] >= RANK[before], (before, event)
    assert {before for before, event in TRANSITIONS if event is Recovered} == {AttemptStatus.FAILED}
    for status in (AttemptStatus.SUCCEEDED, AttemptStatus.RECOVERED):
        assert not [event for before, event in TRANSITIONS if before is status]


def payment(status: PaymentStatus, *, id: str = "pi_1", amount: int = 27_000) -> Payment:
    return Payment(id, status, amount, "VND", NOW, "cus_1", "pm_1", "a", {})


def test_the_gateway_answer_read_as_an_event() -> None:
    fresh = attempt()
    assert answer(fresh, payment(PaymentStatus.SUCCEEDED), None, "payment:a") == Paid(
        "pi_1", "payment:a"
    )
    assert answer(fresh, payment(PaymentStatus.PENDING), None, "p") == Unanswered("pi_1")
    assert answer(fresh, None, None, "p") == Unanswered(None)
    assert answer(fresh, payment(PaymentStatus.CANCELED), None, "p") == Declined("pi_1", "canceled")
    assert answer(fresh, None, ("card_declined", "pi_9"), "p") == Declined("pi_9", "card_declined")
    recorded = attempt(gateway_payment_id="pi_1")
    assert answer(recorded, None, ("card_declined", "pi_9"), "p") == Declined(
        "pi_1", "card_declined"
    )


def test_an_answer_about_another_authorisation_of_a_daily_charge_is_a_duplicate() -> None:
    recorded = attempt(gateway_payment_id="pi_1")
    assert answer(recorded, payment(PaymentStatus.SUCCEEDED, id="pi_2"), None, "p") is None
    top_up = attempt(purpose=PaymentPurpose.TOP_UP, charge_key=None, gateway_payment_id="pi_1")
    assert answer(top_up, payment(PaymentStatus.SUCCEEDED, id="pi_2"), None, "p") == Paid(
        "pi_2", "p"
    )


def test_a_payment_of_another_amount_is_a_mismatch() -> None:
    with pytest.raises(GatewayMismatch, match="asked 27000 VND"):
        answer(attempt(), payment(PaymentStatus.SUCCEEDED, amount=27_001), None, "p")
