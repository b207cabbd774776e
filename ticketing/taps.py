"""A tap: one validated passage of a credential at a gate or validator, as journaled."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ticketing.service_day import require_aware


class TapKind(enum.StrEnum):
    """What the passenger did at the device.

    Metro gates record ENTRY then EXIT; bus validators record BOARD (and ALIGHT where a route
    is configured for tap-off).
    """

    ENTRY = "entry"
    EXIT = "exit"
    BOARD = "board"
    ALIGHT = "alight"


@dataclass(frozen=True, slots=True)
class Tap:
    """One journal record. (device_id, device_seq) identifies it: a re-upload is the same tap."""

    device_id: str
    device_seq: int
    credential_id: int
    account_id: str
    at: datetime
    route_id: str
    stop_id: str
    kind: TapKind
    step: int | None = None  # the TOTP step the device accepted, when it said

    def __post_init__(self) -> None:
        require_aware(self.at, "tap time")

    @property
    def key(self) -> tuple[str, int]:
        return (self.device_id, self.device_seq)


class TapRecord(Protocol):
    """What storing a tap reads: a `Tap`, or a record already validated as a Tap is (aware
    time, the fields' types), such as the device API's decoded `JournalRecord`. The upload path
    hands its decoded records over as they are, so nothing is checked twice per record."""

    @property
    def device_id(self) -> str: ...

    @property
    def device_seq(self) -> int: ...

    @property
    def credential_id(self) -> int: ...

    @property
    def account_id(self) -> str: ...

    @property
    def at(self) -> datetime: ...

    @property
    def route_id(self) -> str: ...

    @property
    def stop_id(self) -> str: ...

    @property
    def kind(self) -> TapKind: ...

    @property
    def step(self) -> int | None: ...
