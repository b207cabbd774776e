"""A tap: one validated passage of a credential at a gate or validator, as journaled."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from ticketing.errors import NaiveTime


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

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise NaiveTime(f"tap time must be timezone-aware, got {self.at!r}")

    @property
    def key(self) -> tuple[str, int]:
        return (self.device_id, self.device_seq)
