"""What the backend checks of a barrier's journal before applying it, and the fee it charges
(pure: no I/O, no clock). A barrier's times, sequence numbers and fees are its own to report,
never to decide: a record no working barrier makes is refused (ImpossibleRecord, naming it),
and every stay is priced again from the lot's tariff.

- Times: no more than a day ahead of the server's clock, nor older than 90 days, nor before
  the barrier was enrolled (beyond the 5 minutes a signed request's clock may be off).
- Sequence numbers: each at most `MAX_SEQ_LEAP` above the one before it (the last applied,
  then each record of the batch in order), so one absurd number (2**63 - 1) cannot stop every
  later record of the barrier from applying.
- An exit is not before its stay's entry.
- The fee charged is the backend's: the stay priced with the tariff version in force at its
  entry (free up to a permit's end), or the version in force at the exit's lost-credential
  price for a car whose entry is unknown. A reported fee above what any version of the lot's
  tariff charges for the stay is refused: the barrier is broken or lying.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from parking.errors import ImpossibleRecord
from parking.records import BarrierEvent
from parking.tariff_versions import TariffVersion, in_force

MAX_AHEAD = timedelta(days=1)
MAX_AGE = timedelta(days=90)
MAX_SEQ_LEAP = 1_000_000
ENROLMENT_SLACK = timedelta(minutes=5)


def check_records(
    events: Sequence[BarrierEvent],
    last_seq: int,
    now: datetime,
    enrolled_at: datetime | None = None,
) -> None:
    """Refuse a batch (in sequence order, after the barrier's last applied `last_seq`) with a
    time far from `now` or before the barrier's enrolment (`enrolled_at`; None: not
    checked), or a sequence number that leaps."""
    previous = last_seq
    for event in events:
        if event.seq - previous > MAX_SEQ_LEAP:
            raise ImpossibleRecord(
                f"record {event.seq}: its sequence number leaps {event.seq - previous:,} past "
                f"{previous} (at most {MAX_SEQ_LEAP:,}); nothing applied"
            )
        previous = event.seq
        if event.at > now + MAX_AHEAD:
            raise ImpossibleRecord(
                f"record {event.seq}: time {event.at.isoformat()} is more than a day ahead of "
                f"the server's clock; nothing applied"
            )
        if event.at < now - MAX_AGE:
            raise ImpossibleRecord(
                f"record {event.seq}: time {event.at.isoformat()} is more than "
                f"{MAX_AGE.days} days old; nothing applied"
            )
        if enrolled_at is not None and event.at < enrolled_at - ENROLMENT_SLACK:
            raise ImpossibleRecord(
                f"record {event.seq}: time {event.at.isoformat()} is before the barrier was "
                f"enrolled at {enrolled_at.isoformat()}; nothing applied"
            )


def stay_fee(
    versions: Sequence[TariffVersion],
    *,
    vehicle: str,
    entry_at: datetime | None,
    exit_at: datetime,
    permit_until: datetime | None = None,
) -> int:
    """What the backend charges for a stay: priced with the version in force at its entry
    (`entry_at` None: an unknown entry, the lost-credential price of the version in force at
    the exit); a permit's stay is free until `permit_until`."""
    if entry_at is None:
        return in_force(versions, exit_at).tariff.lost_credential
    tariff = in_force(versions, entry_at).tariff
    start = entry_at if permit_until is None else max(entry_at, permit_until)
    if exit_at <= start:
        return 0
    return tariff.quote(vehicle, start, exit_at).amount


def most_any_tariff_charges(
    versions: Sequence[TariffVersion],
    *,
    vehicle: str,
    entry_at: datetime | None,
    exit_at: datetime,
) -> int:
    """The most any scheduled version of the lot's tariff charges for the stay (or for a lost
    credential): a reported fee above it is impossible."""  # fmt: skip
    most = 0
    for version in versions:
        if not version.scheduled:
            continue
        tariff = version.tariff
        most = max(most, tariff.lost_credential)
        if entry_at is not None and exit_at > entry_at and vehicle in tariff.vehicle_classes:
            most = max(most, tariff.quote(vehicle, entry_at, exit_at).amount)
    return most


def check_exit(event: BarrierEvent, entry_at: datetime | None, most: int) -> None:
    """Refuse an exit before its entry, or one reporting more than any tariff charges."""
    if entry_at is not None and event.at < entry_at:
        raise ImpossibleRecord(
            f"record {event.seq}: exit at {event.at.isoformat()} is before its entry at "
            f"{entry_at.isoformat()}; nothing applied"
        )
    for name, amount in (("fee", event.fee), ("collected", event.collected)):
        if amount is not None and amount > most:
            raise ImpossibleRecord(
                f"record {event.seq}: {name} {amount:,} is above what any tariff of lot "
                f"{event.lot_id} charges for this stay ({most:,}); nothing applied"
            )
