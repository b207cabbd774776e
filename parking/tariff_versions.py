"""A lot's tariffs over time: versions, each coming into force at a set time (pure: no I/O).

An operator uploads a tariff file for a lot (a version: the document as uploaded, checked
field by field), previews quotes with it and schedules it: from `effective_from` on, entries
at the lot are priced with it. A version not yet scheduled is a draft; a scheduled version
may be cancelled until it comes into force, never after (stays were priced with it).

**The rule for a stay that spans a change: the whole stay is priced by the version in force
at its entry.** The driver entered under the prices posted then; the price of a stay never
depends on when it is computed (the barrier prices it offline, the backend again, with the
same answer); and a change scheduled for midnight does not turn one stay into two priced by
different rules. A stay that entered before a lot's first version (a barrier's journal older
than the lot's record) is priced by that first version: there is no earlier one.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from parking.errors import NoTariff, QuoteError
from parking.tariff import Tariff
from parking.tariff_files import parse_tariff

DIGEST_LENGTH = 16  # hex characters of the document's SHA-256: what barriers report


def digest(document: str) -> str:
    """The version's fingerprint: barriers say which tariff priced a stay by it."""
    return hashlib.sha256(document.encode()).hexdigest()[:DIGEST_LENGTH]


@functools.lru_cache(maxsize=256)
def parsed(document: str, source: str = "<tariff>") -> Tariff:
    """The tariff of a stored document (documents are immutable, so parsing once is enough;
    every exit of a busy lot prices with the same few versions)."""
    return parse_tariff(document, source=source)


class Scheduled(Protocol):
    """A tariff version as the rule needs it (stored, or as a barrier holds it)."""

    @property
    def version(self) -> int: ...

    @property
    def effective_from(self) -> datetime | None: ...

    @property
    def scheduled(self) -> bool: ...


S = TypeVar("S", bound=Scheduled)


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffVersion:
    """Version `version` of `lot_id`'s tariff: the document as uploaded and when it comes
    into force (None: a draft). `cancelled_at`: withdrawn before it came into force."""

    lot_id: str
    version: int
    document: str
    effective_from: datetime | None
    created_at: datetime
    created_by: str
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None

    @property
    def tariff(self) -> Tariff:
        return parsed(self.document, f"{self.lot_id} v{self.version}")

    @property
    def digest(self) -> str:
        return digest(self.document)

    @property
    def scheduled(self) -> bool:
        """Scheduled to come into force (or in force), and not cancelled."""
        return self.effective_from is not None and self.cancelled_at is None

    @property
    def status(self) -> str:
        """`draft`, `scheduled` or `cancelled` (whether it is in force depends on the time:
        `in_force`)."""
        if self.cancelled_at is not None:
            return "cancelled"
        return "draft" if self.effective_from is None else "scheduled"


def _schedule(versions: Iterable[S]) -> list[S]:
    """The scheduled versions in the order they come into force (a later version scheduled
    for the same instant wins, so it comes last)."""
    return sorted((v for v in versions if v.scheduled), key=_order)


def _order(version: Scheduled) -> tuple[datetime, int]:
    assert version.effective_from is not None  # only scheduled versions are ordered
    return version.effective_from, version.version


def in_force(versions: Iterable[S], at: datetime) -> S:
    """The version that prices an entry at `at` (module docstring: the rule)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise QuoteError(f"an entry time must be timezone-aware, got {at.isoformat()}")
    schedule = _schedule(versions)
    if not schedule:
        raise NoTariff("no tariff is scheduled for this lot")
    current = schedule[0]
    for version in schedule[1:]:
        assert version.effective_from is not None  # scheduled
        if version.effective_from > at:
            break
        current = version
    return current


def upcoming(versions: Iterable[S], at: datetime) -> list[S]:
    """The scheduled versions that come into force after `at`, soonest first."""
    return [
        v for v in _schedule(versions) if v.effective_from is not None and v.effective_from > at
    ]


def pricing_window(versions: Sequence[S], since: datetime) -> list[S]:
    """Every version a barrier needs to price stays that entered at or after `since` and
    entries still to come: the one in force at `since`, those that came into force after it,
    and those scheduled. In the order they come into force."""
    first = in_force(versions, since)
    return [
        v
        for v in _schedule(versions)
        if v is first or (v.effective_from is not None and v.effective_from > since)
    ]
