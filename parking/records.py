"""Parking's records as plain values: lots as configured (and the rules a lot's configuration
keeps), sessions and cases as stored, the barrier events a backend applies, and receipts."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from parking.errors import LotError
from parking.sessions import Passback, SessionState

LOT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
OPERATOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # as the operator registry's
MAX_NAME = 100
MAX_ADDRESS = 200
MAX_SPACES = 1_000_000
MAX_AMOUNT = 10**12  # minor units: far above any hold or permit price
COORDINATE = Decimal("0.0000001")  # 7 decimals (about 1 cm), as ParkAPI publishes them


class LotKind(StrEnum):
    """What kind of place a lot is (ParkAPI's parking-site types, in our spelling)."""

    ON_STREET = "on-street"  # spaces along a street (an inspector checks them)
    PARKING_GROUND = "parking-ground"  # an open lot off the street
    CAR_PARK = "car-park"  # a multi-storey car park
    UNDERGROUND = "underground"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class LotConfig:
    """A lot as the operator configures it (the operator API, page and CLI, a lots file).
    Its tariff is versioned apart (`parking.tariff_versions`); `currency` is its tariffs'."""

    lot_id: str
    name: str
    operator: str
    capacity: int
    currency: str
    reserved: int = 0  # kept for holders of a reserved right (permits, disabled badges)
    passback: Passback = "hard"
    hold_amount: int = 0  # held on a prepaid wallet at entry (0: no hold)
    kind: LotKind = LotKind.CAR_PARK
    latitude: Decimal | None = None  # WGS 84, 7 decimals; both or neither
    longitude: Decimal | None = None
    address: str | None = None
    permit_price: int = 0  # a month's permit (0: the lot sells none)


def _text(value: str, field: str, limit: int) -> None:
    if not value.strip() or len(value) > limit or not value.isprintable():
        raise LotError(field, f"must be 1-{limit} printable characters")


def check_lot(lot: LotConfig) -> None:
    """Refuse a configuration that cannot work, naming the field: LotError(field, reason)."""
    if not LOT_ID.fullmatch(lot.lot_id):
        raise LotError(
            "lot_id",
            "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    _text(lot.name, "name", MAX_NAME)
    if not OPERATOR_ID.fullmatch(lot.operator):
        raise LotError("operator", "must be an operator id: letters, digits or . _ -")
    if not 1 <= lot.capacity <= MAX_SPACES:
        raise LotError("capacity", f"must be 1 to {MAX_SPACES:,} spaces")
    if not 0 <= lot.reserved <= lot.capacity:
        raise LotError("reserved", f"must be 0 to the capacity ({lot.capacity})")
    if lot.passback not in ("hard", "soft"):
        raise LotError("passback", "must be 'hard' or 'soft'")
    for field, amount in (("hold", lot.hold_amount), ("permit_price", lot.permit_price)):
        if not 0 <= amount <= MAX_AMOUNT:
            raise LotError(field, f"must be 0 to {MAX_AMOUNT:,} minor units")
    if not re.fullmatch(r"[A-Z]{3}", lot.currency):
        raise LotError("currency", "must be an ISO 4217 code like VND")
    if (lot.latitude is None) != (lot.longitude is None):
        raise LotError("latitude", "give both latitude and longitude, or neither")
    for field, value, limit in (("latitude", lot.latitude, 90), ("longitude", lot.longitude, 180)):
        if value is not None and (not value.is_finite() or not -limit <= value <= limit):
            raise LotError(field, f"must be a number from -{limit} to {limit}")
    if lot.address is not None:
        _text(lot.address, "address", MAX_ADDRESS)


def coordinate(value: float | str | Decimal) -> Decimal:
    """A latitude or longitude as stored: 7 decimals."""
    return Decimal(str(value)).quantize(COORDINATE)


class EventKind(StrEnum):
    """What a barrier journaled (the simulated barrier journals with this too)."""

    ENTRY = "entry"
    EXIT = "exit"
    REFUSED = "refused"
    REMOTE_OPEN = "remote_open"  # opened on an operator's command (`command_id`)


@dataclass(frozen=True, slots=True, kw_only=True)
class BarrierEvent:
    """One barrier journal record as uploaded; (device_id, seq) identifies it.

    `session_seq` is an exit's entry record (None: the entry is unknown, a lost credential);
    `fee` is the whole stay's price the barrier computed from its synced tariff, `collected`
    what it took at the lane, `failure` why it could not take the rest."""

    device_id: str
    seq: int
    lot_id: str
    kind: EventKind
    at: datetime
    reason: str
    session_seq: int | None = None
    credential_id: int | None = None
    plate: str | None = None
    vehicle: str | None = None
    tariff_id: str | None = None
    fee: int | None = None
    currency: str | None = None
    collected: int | None = None
    failure: str | None = None
    passback_violation: bool = False
    lost_credential: bool = False
    permit_id: str | None = None  # an entry the barrier admitted on a permit
    command_id: str | None = None  # a remote open: the command it carried out

    @classmethod
    def from_journal(cls, record: object) -> BarrierEvent:
        """The event of a barrier's journal record as the barrier holds it
        (`simulators.barrier.BarrierRecord`) or as the device API decodes it: any object with
        these fields as attributes, `kind` and `failure` as enums or their values, the
        credential id as a number or its decimal string (as the device API carries it)."""
        values = {name: getattr(record, name) for name in _EVENT_FIELDS}
        values["kind"] = EventKind(values["kind"])
        if values["credential_id"] is not None:
            values["credential_id"] = int(values["credential_id"])
        if values["failure"] is not None:
            values["failure"] = str(values["failure"])
        return cls(**values)

    @property
    def session_id(self) -> str:
        """The session this event belongs to, named as the barrier names it."""
        entry_seq = self.seq if self.kind is EventKind.ENTRY else self.session_seq
        return f"{self.device_id}:{entry_seq if entry_seq is not None else f'lost-{self.seq}'}"


_EVENT_FIELDS = tuple(f.name for f in fields(BarrierEvent))


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """A stay as stored: `fee` the whole stay's price, `collected` what was taken for it."""

    session_id: str
    lot_id: str
    device_id: str
    entry_seq: int | None
    vehicle: str
    entry_at: datetime
    currency: str
    status: SessionState = SessionState.OPEN
    credential_id: int | None = None
    account_id: str | None = None
    plate: str | None = None
    exit_seq: int | None = None
    exit_at: datetime | None = None
    fee: int | None = None
    collected: int = 0
    tariff_id: str | None = None
    passback_violation: bool = False
    lost_credential: bool = False
    hold_id: str | None = None
    posting_id: str | None = None
    receipt_no: str | None = None
    permit_id: str | None = None  # entered on a permit (`parking.permit`)


class CaseStatus(StrEnum):
    """Where an unable-to-collect case's follow-up stands (`parking.cases`)."""

    OPEN = "open"  # recorded; nobody told yet
    NOTIFIED = "notified"  # the rider was told through the outbox
    COLLECTED = "collected"  # the debt was paid (or the driver paid at the counter)
    WRITTEN_OFF = "written_off"  # given up, with a reason and who decided

    @property
    def resolved(self) -> bool:
        return self in (CaseStatus.COLLECTED, CaseStatus.WRITTEN_OFF)


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseRecord:
    """An unable-to-collect case: the car left owing `amount`; `debt_posting_id` put it on the
    account's receivable (None: no account to bill, e.g. a lost credential without a match)."""

    session_id: str
    lot_id: str
    account_id: str | None
    credential_id: int | None
    plate: str | None
    amount: int
    currency: str
    reason: str
    at: datetime
    debt_posting_id: str | None
    status: CaseStatus = CaseStatus.OPEN
    notified_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """What a driver gets for a paid session."""

    receipt_no: str
    session_id: str
    lot_id: str
    lot_name: str
    operator: str
    vehicle: str
    plate: str | None
    entry_at: datetime
    exit_at: datetime
    amount: int
    currency: str
    account_id: str | None
    posting_id: str | None  # the fee's posting (a hold capture, or the fee itself)


@dataclass(frozen=True, slots=True, kw_only=True)
class Inspection:
    """A plate an inspector checked at an on-street lot: `result` is `session` (an open stay
    there), `permit` (a permit covering now) or `nothing`."""

    lot_id: str
    plate: str
    inspector: str
    at: datetime
    result: str
    session_id: str | None = None
    permit_id: str | None = None
    inspection_id: int | None = None  # None until recorded


@dataclass(frozen=True, slots=True, kw_only=True)
class BarrierCommand:
    """An operator's remote open of one barrier: sent on the barrier's syncs until its journal
    records it done (`executed_at`, `executed_seq`)."""

    command_id: str
    lot_id: str
    device_id: str
    reason: str
    requested_by: str
    requested_at: datetime
    executed_at: datetime | None = None
    executed_seq: int | None = None
