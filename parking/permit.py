"""Monthly permits (vé tháng), pure: who holds one, for which lot and month, and whether it
covers a moment.

A permit is sold for one lot and one calendar month, local to the lot (its tariff's time
zone): from the first of the month at 00:00 to the first of the next. Its holder is a plate
(compared as `parking.sessions.normalise_plate` compares them) or a credential (the phone QR
the barrier reads). A holder enters and leaves free while the permit covers the moment, and
uses the lot's reserved spaces: the barrier admits them while any space is free, where an
ordinary entry needs one of the unreserved ones. A stay that runs past the permit's end pays
the tariff from that end on; an expired permit is no permit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from parking.errors import PermitError
from parking.sessions import normalise_plate, plate_key

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True, kw_only=True)
class Permit:
    """A month's permit as sold: `price` was paid from `account_id` (`posting_id`), or at the
    lot's counter (`posting_id` None)."""

    permit_id: str
    lot_id: str
    month: date  # its first day
    valid_from: datetime
    valid_until: datetime
    plate: str | None
    credential_id: int | None
    price: int
    currency: str
    sold_at: datetime
    sold_by: str
    account_id: str | None = None
    posting_id: str | None = None

    def covers(self, at: datetime) -> bool:
        return self.valid_from <= at < self.valid_until

    def held_by(self, credential_id: int | None, plate: str | None) -> bool:
        if self.credential_id is not None and self.credential_id == credential_id:
            return True
        return self.plate is not None and plate is not None and self.plate == normalise_plate(plate)

    @property
    def holder(self) -> str:
        return f"plate {self.plate}" if self.plate else f"credential {self.credential_id}"


def parse_month(text: str) -> date:
    """`2026-12` as the month's first day; PermitError otherwise."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or int(match[1]) < 1:  # year 0 is no year (date() refuses it)
        raise PermitError(f"month {text[:20]!r} is not a month like 2026-12")
    return date(int(match[1]), int(match[2]), 1)


def month_window(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The month from its first day at 00:00 local to the next month's (UTC instants keep
    their zone: aware datetimes)."""
    start = month.replace(day=1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return datetime.combine(start, time(), zone), datetime.combine(end, time(), zone)


def permit_id(lot_id: str, month: date, credential_id: int | None, plate: str | None) -> str:
    """A permit's name: one holder has at most one permit per lot and month, so buying it
    again is the same permit (a retry charges nothing twice)."""
    holder = f"credential-{credential_id}" if plate is None else f"plate-{plate}"
    return f"{lot_id}:{month:%Y-%m}:{holder}"


def holder(credential_id: int | None, plate: str | None) -> tuple[int | None, str | None]:
    """The holder as a permit keeps it: exactly one of a credential and a plate (normalised)."""
    if (credential_id is None) == (plate is None or not plate.strip()):
        raise PermitError("a permit is for a plate or for a credential: give exactly one")
    if plate is None:
        return credential_id, None
    return None, plate_key(plate)


def permit_for(
    permits: Iterable[Permit],
    lot_id: str,
    *,
    credential_id: int | None,
    plate: str | None,
    at: datetime,
) -> Permit | None:
    """The permit that lets this credential or plate into the lot at `at`, if any."""
    return next(
        (
            p
            for p in permits
            if p.lot_id == lot_id and p.covers(at) and p.held_by(credential_id, plate)
        ),
        None,
    )
