"""Session policy: entry, anti-passback, exit fee, grace, lost credential, unable to collect."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from parking.errors import QuoteError, SessionError, UnknownVehicleClass
from parking.sessions import (
    CollectFailure,
    EntryRefusal,
    Lot,
    ParkingSession,
    SessionState,
    enter,
    exit_fee,
    find_by_plate,
    leave,
    lost_credential_fee,
    normalise_plate,
    pay,
    unknown_entry,
)
from parking.tariff_files import load_tariff

CAR = load_tariff("hanoi-car")
HARD = Lot(lot_id="hoan-kiem-1", tariff=CAR, passback="hard")
SOFT = Lot(lot_id="hoan-kiem-1", tariff=CAR, passback="soft")
T0 = datetime.fromisoformat("2026-11-30T08:00+07:00")


def entered(lot: Lot = HARD, *, credential_id: int | None = 7, plate: str | None = "30A-123.45",
            at: datetime = T0, session_id: str = "s1") -> ParkingSession:  # fmt: skip
    decision = enter(
        lot, session_id=session_id, at=at, vehicle="car", credential_id=credential_id,
        plate=plate, open_sessions=[],
    )  # fmt: skip
    assert decision.admitted
    assert decision.session is not None
    return decision.session


def test_entry_opens_a_session() -> None:
    session = entered()
    assert session.is_open
    assert session.plate == "30A12345"
    assert not session.passback_violation


def test_entry_needs_a_credential_or_plate() -> None:
    with pytest.raises(SessionError, match="credential or a plate"):
        entered(credential_id=None, plate=None)
    assert entered(credential_id=None).plate == "30A12345"


def test_entry_rejects_unknown_vehicle_and_naive_time() -> None:
    with pytest.raises(UnknownVehicleClass):
        enter(HARD, session_id="x", at=T0, vehicle="motorbike", credential_id=1, plate=None,
              open_sessions=[])  # fmt: skip
    with pytest.raises(QuoteError, match="timezone-aware"):
        entered(at=datetime(2026, 11, 30, 8))


def test_hard_passback_refuses_a_second_entry() -> None:
    first = entered()
    decision = enter(HARD, session_id="s2", at=T0 + timedelta(minutes=5), vehicle="car",
                     credential_id=7, plate=None, open_sessions=[first])  # fmt: skip
    assert not decision.admitted
    assert decision.refusal is EntryRefusal.PASSBACK
    assert decision.session is None


def test_passback_is_per_lot_and_per_credential() -> None:
    first = entered()
    other_lot = Lot(lot_id="ba-dinh-2", tariff=CAR, passback="hard")
    assert enter(other_lot, session_id="s2", at=T0, vehicle="car", credential_id=7, plate=None,
                 open_sessions=[first]).admitted  # fmt: skip
    assert enter(HARD, session_id="s3", at=T0, vehicle="car", credential_id=8, plate=None,
                 open_sessions=[first]).admitted  # fmt: skip
    closed = replace(first, state=SessionState.CLOSED)
    assert enter(HARD, session_id="s4", at=T0, vehicle="car", credential_id=7, plate=None,
                 open_sessions=[closed]).admitted  # fmt: skip


def test_soft_passback_admits_and_closes_the_earlier_session() -> None:
    first = entered(SOFT)
    decision = enter(SOFT, session_id="s2", at=T0 + timedelta(hours=3), vehicle="car",
                     credential_id=7, plate=None, open_sessions=[first])  # fmt: skip
    assert decision.admitted
    assert decision.session is not None
    assert decision.session.passback_violation
    assert decision.superseded is not None
    assert decision.superseded.state is SessionState.PASSBACK_CLOSED
    assert decision.superseded.fee == 60_000  # 3 h: a turn and the dearer third-hour turn


def test_exit_fee_is_the_tariff_price() -> None:
    fee = exit_fee(HARD, entered(), T0 + timedelta(hours=2))
    assert (fee.amount, fee.currency, fee.within_grace) == (25_000, "VND", False)


def test_grace_after_payment() -> None:
    session, paid = pay(HARD, entered(), T0 + timedelta(hours=1))
    assert paid.amount == 25_000
    assert session.paid_amount == 25_000
    # Within the 15 grace minutes: nothing more to pay.
    within = exit_fee(HARD, session, T0 + timedelta(hours=1, minutes=15))
    assert (within.amount, within.within_grace) == (0, True)
    # After grace but still in the first turn: the turn is already paid.
    assert exit_fee(HARD, session, T0 + timedelta(hours=1, minutes=16)).amount == 0
    # Into the third hour: the dearer turn is owed on top.
    assert exit_fee(HARD, session, T0 + timedelta(hours=2, minutes=1)).amount == 35_000


def test_leave_collects() -> None:
    decision = leave(HARD, entered(), T0 + timedelta(hours=2))
    assert decision.session.state is SessionState.CLOSED
    assert decision.session.fee == decision.session.collected == 25_000
    assert decision.unable_to_collect is None


@pytest.mark.parametrize("failure", list(CollectFailure))
def test_payment_that_cannot_be_taken_still_lets_the_car_out(failure: CollectFailure) -> None:
    at = T0 + timedelta(hours=2)
    decision = leave(HARD, entered(), at, failure=failure)
    assert decision.session.state is SessionState.UNABLE_TO_COLLECT
    assert (decision.session.fee, decision.session.collected) == (25_000, 0)
    case = decision.unable_to_collect
    assert case is not None
    assert (case.amount, case.currency, case.reason, case.at) == (25_000, "VND", failure, at)
    assert (case.credential_id, case.plate) == (7, "30A12345")


def test_nothing_due_is_never_unable_to_collect() -> None:
    session, _ = pay(HARD, entered(), T0 + timedelta(hours=1))
    decision = leave(HARD, session, T0 + timedelta(hours=1, minutes=5),
                     failure=CollectFailure.BARRIER_OFFLINE)  # fmt: skip
    assert decision.unable_to_collect is None
    assert decision.session.state is SessionState.CLOSED


def test_closed_session_cannot_leave_or_pay_again() -> None:
    closed = leave(HARD, entered(), T0 + timedelta(hours=1)).session
    with pytest.raises(SessionError, match="not open"):
        leave(HARD, closed, T0 + timedelta(hours=2))
    with pytest.raises(SessionError, match="not open"):
        pay(HARD, closed, T0 + timedelta(hours=2))


def test_session_of_another_lot() -> None:
    other = Lot(lot_id="elsewhere", tariff=CAR)
    with pytest.raises(SessionError, match="is at lot"):
        exit_fee(other, entered(), T0 + timedelta(hours=1))


def test_lost_credential_found_by_plate() -> None:
    older = entered(session_id="old", at=T0 - timedelta(days=3))
    older = replace(older, state=SessionState.CLOSED)
    current = entered(session_id="cur")
    assert normalise_plate("30a 123 45") == "30A12345"
    assert find_by_plate(HARD, "30a 123 45", [older, current]) == current
    session, fee = lost_credential_fee(HARD, "30A12345", [older, current], T0 + timedelta(hours=2))
    assert session == current
    assert (fee.amount, fee.lost_credential) == (25_000, False)


def test_lost_credential_without_a_match_pays_the_lost_price() -> None:
    at = T0 + timedelta(hours=2)
    for plate in (None, "29B-999.99"):
        session, fee = lost_credential_fee(HARD, plate, [entered()], at)
        assert session is None
        assert (fee.amount, fee.lost_credential) == (CAR.lost_credential, True)
    unknown = unknown_entry(HARD, session_id="lost", at=at, vehicle="car", plate="29B-999.99")
    decision = leave(HARD, unknown, at, fee=fee, failure=CollectFailure.CARD_DECLINED)
    assert decision.session.lost_credential
    assert decision.unable_to_collect is not None
    assert decision.unable_to_collect.amount == 390_000
