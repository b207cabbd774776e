"""A lot's occupancy over time, from 5-minute buckets of entries and exits (pure: no I/O).

Every applied entry counts in the bucket of its time, every exit in the bucket of its time
(with the stay's fee); a stay whose entry is unknown (a lost credential) counts its entry and
exit together at the exit. The vehicles inside at a bucket boundary are the entries before it
less the exits before it, so the series is exactly what replaying the stays gives at those
instants: a stay is inside at t when it entered before t and had not left before t.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BUCKET = timedelta(minutes=5)  # stored buckets' width: changing it needs a migration
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_of(at: datetime) -> datetime:
    """The start (UTC) of the 5-minute bucket holding `at` (any zone's whole-hour or
    quarter-hour offset keeps buckets aligned with local time)."""
    return _EPOCH + (at - _EPOCH) // BUCKET * BUCKET


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    start: datetime
    entries: int
    exits: int
    fees: int = 0


class BucketCounts:
    """Entries, exits and fees of one upload, added up per bucket before they are stored."""

    def __init__(self) -> None:
        self._counts: dict[datetime, list[int]] = {}

    def _at(self, at: datetime) -> list[int]:
        return self._counts.setdefault(bucket_of(at), [0, 0, 0])

    def entry(self, at: datetime) -> None:
        self._at(at)[0] += 1

    def exit(self, at: datetime, fee: int) -> None:
        counts = self._at(at)
        counts[1] += 1
        counts[2] += fee

    def buckets(self) -> list[Bucket]:
        return [
            Bucket(start=start, entries=n[0], exits=n[1], fees=n[2])
            for start, n in sorted(self._counts.items())
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """Vehicles inside at `at`."""

    at: datetime
    occupied: int


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A local day as instants: its 00:00 to the next day's (23 or 25 hours on a DST change)."""
    return (
        datetime.combine(day, time(), zone),
        datetime.combine(day + timedelta(days=1), time(), zone),
    )


def occupancy_series(
    before: int, buckets: Iterable[Bucket], start: datetime, end: datetime
) -> list[Point]:
    """Vehicles inside at every bucket boundary from `start` to `end` (both included), given
    `before` inside at `start` and the buckets from `start` on."""
    changes = {bucket.start: bucket.entries - bucket.exits for bucket in buckets}
    points = []
    occupied = before
    at = bucket_of(start)
    while at <= end:
        points.append(Point(at=at, occupied=occupied))
        occupied += changes.get(at, 0)
        at += BUCKET
    return points


# Dwell bands, in minutes up to (not including) the bound; the last has none.
DWELL_BANDS: tuple[tuple[int | None, str], ...] = (
    (15, "under 15 min"),
    (30, "15-30 min"),
    (60, "30 min-1 h"),
    (120, "1-2 h"),
    (240, "2-4 h"),
    (480, "4-8 h"),
    (1440, "8-24 h"),
    (None, "a day or more"),
)


def dwell_bands(minutes: Iterable[float]) -> list[tuple[str, int]]:
    """How many stays fall in each band of `DWELL_BANDS`, in order."""
    counts = [0] * len(DWELL_BANDS)
    for value in minutes:
        index = next(
            i for i, (bound, _) in enumerate(DWELL_BANDS) if bound is None or value < bound
        )
        counts[index] += 1
    return [(label, count) for (_, label), count in zip(DWELL_BANDS, counts, strict=True)]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None
