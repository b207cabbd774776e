"""The session policy of a lot, as pure functions over plain values (no I/O, no clock).

A session runs entry → (optional payment at a pay station or in the app) → exit. The rules:

1. Entry, anti-passback: a credential with an open session at the lot may not enter again.
   A `hard` lot refuses; a `soft` lot admits, closes the earlier session at the new entry
   (priced to that moment, due like any fee) and flags the entry as a passback violation.
2. Exit fee: the tariff prices entry → exit. If the driver paid earlier, the exit is free
   within the tariff's grace minutes after payment; later, the driver owes the price of the
   whole stay less what was paid (never negative: a fee never decreases with the stay).
3. Lost credential: the open session is found by plate (the latest entry of that plate);
   with no plate or no match the tariff's lost-credential price is due.
4. A permit holder's stay (`permit_until` set at the entry, `parking.permit`) is free up to
   the permit's end; what runs past it is priced from that end on.
5. The car always leaves. When the money cannot be taken (empty wallet, declined card,
   barrier offline) the session is closed as unable-to-collect and the case is recorded for
   follow-up (it becomes debt on the account downstream).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from parking.errors import InvalidPlate, QuoteError, SessionError
from parking.tariff import Quote, Tariff, require_vehicle

Passback = Literal["hard", "soft"]


class SessionState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # left, fee collected (or nothing was due)
    UNABLE_TO_COLLECT = "unable_to_collect"  # left, fee not collected: a follow-up case
    PASSBACK_CLOSED = "passback_closed"  # closed by a later entry at a soft lot


class EntryRefusal(StrEnum):
    PASSBACK = "passback"  # an open session at this lot already (hard anti-passback)


class CollectFailure(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CARD_DECLINED = "card_declined"
    BARRIER_OFFLINE = "barrier_offline"


@dataclass(frozen=True, slots=True, kw_only=True)
class Lot:
    """A car park: its tariff (as synced to its barriers) and its anti-passback mode."""

    lot_id: str
    tariff: Tariff
    passback: Passback = "hard"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParkingSession:
    """One vehicle's stay at a lot; `credential_id` or `plate` (or both) identify it."""

    session_id: str
    lot_id: str
    vehicle: str
    entry_at: datetime
    credential_id: int | None = None
    plate: str | None = None
    state: SessionState = SessionState.OPEN
    paid_amount: int = 0
    paid_at: datetime | None = None
    exit_at: datetime | None = None
    fee: int | None = None
    collected: int = 0
    passback_violation: bool = False
    lost_credential: bool = False  # entry unknown: opened at the exit for the lost price
    permit_until: datetime | None = None  # a permit holder's: free until then

    @property
    def is_open(self) -> bool:
        return self.state is SessionState.OPEN


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryDecision:
    """Admitted with a new session, or refused; `superseded` is the soft lot's closed session."""

    admitted: bool
    session: ParkingSession | None
    refusal: EntryRefusal | None = None
    superseded: ParkingSession | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitFee:
    """What the driver owes at the exit barrier, and why."""

    amount: int
    currency: str
    quote: Quote | None
    within_grace: bool = False
    lost_credential: bool = False
    within_permit: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UnableToCollect:
    """A car that left without paying what it owed: the operator's follow-up case."""

    session_id: str
    lot_id: str
    amount: int
    currency: str
    reason: CollectFailure
    at: datetime
    credential_id: int | None
    plate: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitDecision:
    """The barrier opens; the session is closed, collected or recorded as unable to collect."""

    session: ParkingSession
    fee: ExitFee
    unable_to_collect: UnableToCollect | None = None


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise QuoteError(f"{what} must be timezone-aware, got {at.isoformat()}")
    return at


MAX_PLATE = 16  # characters of a normalised plate (Vietnamese plates have 7 to 9)


def normalise_plate(plate: str) -> str:
    """Plates compare without spaces, dots and dashes, upper case ("30A-123.45" = "30A12345")."""
    return "".join(ch for ch in plate.upper() if ch.isalnum())


def plate_key(plate: str) -> str:
    """`plate` as plates compare, for a plate someone typed (a permit, a check, a search);
    InvalidPlate unless it has 4 to MAX_PLATE letters and digits."""
    normalised = normalise_plate(plate)
    if not 4 <= len(normalised) <= MAX_PLATE:
        raise InvalidPlate(
            f"{plate[:40]!r} is not a plate: 4-{MAX_PLATE} letters and digits (30A-123.45)"
        )
    return normalised


def enter(
    lot: Lot,
    *,
    session_id: str,
    at: datetime,
    vehicle: str,
    credential_id: int | None,
    plate: str | None,
    open_sessions: Iterable[ParkingSession],
) -> EntryDecision:
    """Decide an entry against the lot's open sessions (anti-passback by credential)."""
    _aware(at, "entry time")
    require_vehicle(lot.tariff, vehicle)
    if credential_id is None and not plate:
        raise SessionError("an entry needs a credential or a plate")
    earlier = None
    if credential_id is not None:
        earlier = next(
            (
                session
                for session in open_sessions
                if session.is_open
                and session.lot_id == lot.lot_id
                and session.credential_id == credential_id
            ),
            None,
        )
    superseded = None
    if earlier is not None:
        if lot.passback == "hard":
            return EntryDecision(admitted=False, session=None, refusal=EntryRefusal.PASSBACK)
        fee = exit_fee(lot, earlier, at)
        superseded = replace(
            earlier, state=SessionState.PASSBACK_CLOSED, exit_at=at, fee=fee.amount
        )
    session = ParkingSession(
        session_id=session_id,
        lot_id=lot.lot_id,
        vehicle=vehicle,
        entry_at=at,
        credential_id=credential_id,
        plate=None if not plate else normalise_plate(plate),
        passback_violation=earlier is not None,
    )
    return EntryDecision(admitted=True, session=session, superseded=superseded)


def exit_fee(lot: Lot, session: ParkingSession, at: datetime) -> ExitFee:
    """What the driver owes leaving at `at` (grace after payment and permits applied)."""
    _aware(at, "exit time")
    if session.lot_id != lot.lot_id:
        raise SessionError(f"session {session.session_id} is at lot {session.lot_id}")
    tariff = lot.tariff
    charged_from = session.entry_at
    if session.permit_until is not None:
        if at <= session.permit_until:
            return ExitFee(amount=0, currency=tariff.currency, quote=None, within_permit=True)
        charged_from = max(charged_from, session.permit_until)
    if session.paid_at is not None and at <= session.paid_at + timedelta(
        minutes=tariff.grace_minutes
    ):
        return ExitFee(amount=0, currency=tariff.currency, quote=None, within_grace=True)
    quoted = tariff.quote(session.vehicle, charged_from, at)
    return ExitFee(
        amount=max(quoted.amount - session.paid_amount, 0),
        currency=tariff.currency,
        quote=quoted,
    )


def pay(lot: Lot, session: ParkingSession, at: datetime) -> tuple[ParkingSession, ExitFee]:
    """Pay before leaving (pay station, app): the stay so far; the grace period starts."""
    if not session.is_open:
        raise SessionError(f"session {session.session_id} is {session.state}, not open")
    fee = exit_fee(lot, session, at)
    paid = replace(session, paid_amount=session.paid_amount + fee.amount, paid_at=at)
    return paid, fee


def find_by_plate(
    lot: Lot, plate: str, open_sessions: Iterable[ParkingSession]
) -> ParkingSession | None:
    """The latest open session at the lot for this plate, if any."""
    wanted = normalise_plate(plate)
    matches = [
        session
        for session in open_sessions
        if session.is_open and session.lot_id == lot.lot_id and session.plate == wanted
    ]
    return max(matches, key=lambda session: session.entry_at, default=None)


def lost_credential_fee(
    lot: Lot, plate: str | None, open_sessions: Iterable[ParkingSession], at: datetime
) -> tuple[ParkingSession | None, ExitFee]:
    """A driver without the credential: the plate's open session, else the lost price."""
    _aware(at, "exit time")
    session = None if not plate else find_by_plate(lot, plate, open_sessions)
    if session is not None:
        return session, exit_fee(lot, session, at)
    tariff = lot.tariff
    return None, ExitFee(
        amount=tariff.lost_credential,
        currency=tariff.currency,
        quote=None,
        lost_credential=True,
    )


def unknown_entry(
    lot: Lot, *, session_id: str, at: datetime, vehicle: str, plate: str | None
) -> ParkingSession:
    """The session to close for a car whose entry cannot be found (lost credential, no match)."""
    require_vehicle(lot.tariff, vehicle)
    return ParkingSession(
        session_id=session_id,
        lot_id=lot.lot_id,
        vehicle=vehicle,
        entry_at=_aware(at, "exit time"),
        plate=None if not plate else normalise_plate(plate),
        lost_credential=True,
    )


def leave(
    lot: Lot,
    session: ParkingSession,
    at: datetime,
    *,
    failure: CollectFailure | None = None,
    fee: ExitFee | None = None,
) -> ExitDecision:
    """Close the session at `at`; `failure` says why the fee could not be taken, if so.

    The barrier opens either way. `fee` overrides the tariff's price (the lost-credential
    price); a fee of 0 (grace, free minutes) never needs collecting.
    """
    if not session.is_open:
        raise SessionError(f"session {session.session_id} is {session.state}, not open")
    if fee is None:
        fee = exit_fee(lot, session, at)
    owed = session.paid_amount + fee.amount
    if fee.amount == 0 or failure is None:
        closed = replace(session, state=SessionState.CLOSED, exit_at=at, fee=owed, collected=owed)
        return ExitDecision(session=closed, fee=fee)
    unable = UnableToCollect(
        session_id=session.session_id,
        lot_id=lot.lot_id,
        amount=fee.amount,
        currency=fee.currency,
        reason=failure,
        at=at,
        credential_id=session.credential_id,
        plate=session.plate,
    )
    closed = replace(
        session,
        state=SessionState.UNABLE_TO_COLLECT,
        exit_at=at,
        fee=owed,
        collected=session.paid_amount,
    )
    return ExitDecision(session=closed, fee=fee, unable_to_collect=unable)
