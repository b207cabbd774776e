"""Parking's records as plain values: lots as configured, sessions and cases as stored, the
barrier events a backend applies, and receipts."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from parking.sessions import Passback, SessionState


@dataclass(frozen=True, slots=True, kw_only=True)
class LotConfig:
    """A lot as the operator configures it (a lots file, or the operator API)."""

    lot_id: str
    name: str
    operator: str
    capacity: int
    reserved: int
    tariff_name: str
    tariff_version: str
    passback: Passback
    hold_amount: int  # held on a prepaid wallet at entry (0: no hold)
    currency: str


class EventKind(StrEnum):
    """What a barrier journaled (the same words as `simulators.barrier.EventKind`)."""

    ENTRY = "entry"
    EXIT = "exit"
    REFUSED = "refused"


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

    @classmethod
    def from_journal(cls, record: object) -> BarrierEvent:
        """The event of a barrier's journal record as the barrier holds it
        (`simulators.barrier.BarrierRecord`) or as the device API decodes it: any object with
        these fields as attributes, `kind` and `failure` as enums or their values."""
        values = {name: getattr(record, name) for name in _EVENT_FIELDS}
        values["kind"] = EventKind(values["kind"])
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
