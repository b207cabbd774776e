"""Shared codes: a screenshot of one rider's code passed around inside a station (issue 20).

A credential shows a new code every TOTP step and a gate never accepts one step of a
credential twice, and the gates of one station share that memory through the station's Redis.
When the station's Redis is down each gate decides on its own memory, so a screenshot shown
at a second gate of the same station is accepted there too. What is left then is the evidence:
the same credential and the same step accepted at two or more gates of one station, which no
honest rider produces. Settlement flags each such group as an exception of its day. Pure: no
I/O, plain values in and out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SteppedTap:
    """An accepted tap with the TOTP step of the code the device accepted."""

    device_id: str
    device_seq: int
    credential_id: int
    account_id: str
    step: int
    stop_id: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedCode:
    """One code (credential and step) accepted at `gates` (two or more) of one station;
    `taps` are the (device, seq) of every acceptance, oldest first."""

    credential_id: int
    step: int
    station_id: str
    account_id: str
    gates: tuple[str, ...]
    taps: tuple[tuple[str, int], ...]
    first_at: datetime

    @property
    def key(self) -> str:
        return f"{self.credential_id}:{self.step}:{self.station_id}"


def shared_codes(taps: Iterable[SteppedTap], station_of: Mapping[str, str]) -> list[SharedCode]:
    """The codes accepted at two or more gates of one station, in order of credential, step
    and station. A stop's station is `station_of[stop]` (a stop with no parent station is its
    own). The same code at two stations is not flagged: no screenshot crosses a city within a
    step, and the station's shared memory is what this catches the gap of."""
    groups: dict[tuple[int, int, str], list[SteppedTap]] = defaultdict(list)
    for tap in taps:
        station = station_of.get(tap.stop_id, tap.stop_id)
        groups[tap.credential_id, tap.step, station].append(tap)
    found = []
    for (credential, step, station), group in sorted(groups.items()):
        gates = sorted({t.device_id for t in group})
        if len(gates) < 2:
            continue
        group.sort(key=lambda t: (t.at, t.device_id, t.device_seq))
        found.append(
            SharedCode(
                credential_id=credential,
                step=step,
                station_id=station,
                account_id=group[0].account_id,
                gates=tuple(gates),
                taps=tuple((t.device_id, t.device_seq) for t in group),
                first_at=group[0].at,
            )
        )
    return found
