"""Turning an account's taps into journeys: metro tap-in/tap-out pairs and bus boardings.

Taps are first put in canonical order (at, device_id, device_seq) and de-duplicated by their key,
so the journeys, and hence the fares, depend only on the set of taps, never on the order they
were uploaded in. A journey's id is its first tap's key, so a journey keeps its id when a late
tap-out completes it.

Pairing rules (per account):
- ENTRY opens a metro journey; a second ENTRY before any EXIT leaves the first one incomplete.
- EXIT closes the open ENTRY of the same line (below). If it comes later than the policy's
  max_journey_minutes the journey is incomplete (priced at the maximum fare) but keeps its exit.
  An EXIT with no open ENTRY is an incomplete journey of its own (unknown origin).
- BOARD starts a bus ride; ALIGHT on the same line ends the open ride. A ride without ALIGHT is
  complete (flat or origin-based fares need no tap-off); an ALIGHT with nothing to end carries no
  fare and is dropped.

The same line: the same route, or two routes of the same network. Routes that belong to no
network are never "the same network" as each other: at gates (ENTRY/EXIT) they are the same line
when they run in the same gated station system, i.e. are run by the same agency (an exit from a
Caltrain ct_limited train closes an entry onto ct_bullet: the rider changed trains behind the
gates); on board (BOARD/ALIGHT) only the same route is, since a validator is on one vehicle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from ticketing.taps import Tap, TapKind

if TYPE_CHECKING:
    from ticketing.fares.feed import FareFeed


@dataclass(frozen=True, slots=True)
class Journey:
    """One ride, the unit the fare engine prices as a leg.

    `to_stop_id` is None for a bus ride without tap-off and for an incomplete metro journey;
    `from_stop_id` is None only for an exit with no matching entry.
    """

    journey_id: str
    account_id: str
    route_id: str
    from_stop_id: str | None
    to_stop_id: str | None
    departure: datetime
    arrival: datetime | None
    incomplete: bool
    tap_keys: tuple[tuple[str, int], ...]


def canonical_taps(taps: Iterable[Tap]) -> list[Tap]:
    """Taps in canonical order with re-uploads (same device_id and device_seq) removed."""
    unique: dict[tuple[str, int], Tap] = {}
    for tap in taps:
        unique.setdefault(tap.key, tap)
    return sorted(unique.values(), key=_tap_order)


def _tap_order(tap: Tap) -> tuple[datetime, str, int]:
    return (tap.at, tap.device_id, tap.device_seq)


def _journey_id(tap: Tap) -> str:
    return f"{tap.device_id}:{tap.device_seq}"


def build_journeys(taps: Sequence[Tap], feed: FareFeed) -> list[Journey]:
    """The journeys of the given taps (any accounts), in canonical order of their first tap."""
    journeys: list[Journey] = []
    open_entries: dict[str, Tap] = {}
    open_boards: dict[str, Tap] = {}
    for tap in canonical_taps(taps):
        account = tap.account_id
        kind = tap.kind
        if kind is TapKind.ENTRY:
            previous = open_entries.pop(account, None)
            if previous is not None:
                journeys.append(_unfinished(previous))
            open_entries[account] = tap
        elif kind is TapKind.EXIT:
            entry = open_entries.get(account)
            if entry is not None and (
                entry.route_id == tap.route_id or _same_line(entry, tap, feed)
            ):
                del open_entries[account]
                limit = feed.max_journey_seconds(entry.route_id)
                overtime = (tap.at - entry.at).total_seconds() > limit
                journeys.append(_ride(entry, tap, incomplete=overtime))
            else:
                journeys.append(
                    Journey(
                        _journey_id(tap),
                        account,
                        tap.route_id,
                        None,
                        tap.stop_id,
                        tap.at,
                        tap.at,
                        True,
                        (tap.key,),
                    )
                )
        elif kind is TapKind.BOARD:
            previous = open_boards.pop(account, None)
            if previous is not None:
                journeys.append(_unfinished(previous, incomplete=False))
            open_boards[account] = tap
        else:
            board = open_boards.get(account)
            if board is not None and (
                board.route_id == tap.route_id or _same_line(board, tap, feed)
            ):
                del open_boards[account]
                journeys.append(_ride(board, tap, incomplete=False))
    journeys.extend(_unfinished(tap) for tap in open_entries.values())
    journeys.extend(_unfinished(tap, incomplete=False) for tap in open_boards.values())
    journeys.sort(key=lambda j: (j.departure, j.journey_id))
    return journeys


def _same_line(start: Tap, end: Tap, feed: FareFeed) -> bool:
    """Whether `end`, on another route, can close the ride `start` opened (module docstring)."""
    start_network = feed.network_of(start.route_id)
    end_network = feed.network_of(end.route_id)
    if start_network is not None or end_network is not None:
        return start_network == end_network
    return end.kind is TapKind.EXIT and feed.same_operator(start.route_id, end.route_id)


def _ride(start: Tap, end: Tap, *, incomplete: bool) -> Journey:
    return Journey(
        _journey_id(start),
        start.account_id,
        start.route_id,
        start.stop_id,
        end.stop_id,
        start.at,
        end.at,
        incomplete,
        (start.key, end.key),
    )


def _unfinished(start: Tap, *, incomplete: bool = True) -> Journey:
    return Journey(
        _journey_id(start),
        start.account_id,
        start.route_id,
        start.stop_id,
        None,
        start.at,
        None,
        incomplete,
        (start.key,),
    )


def journey_service_day(journey: Journey, feed: FareFeed) -> date:
    """The service day a journey counts towards: that of its first tap, in its network's policy."""
    return feed.service_day_of(journey.route_id, journey.departure)


def journeys_by_service_day(
    journeys: Iterable[Journey], feed: FareFeed
) -> dict[date, list[Journey]]:
    """Journeys grouped by service day, so a tap-out after the cut-off stays with its tap-in."""
    days: dict[date, list[Journey]] = {}
    for journey in journeys:
        days.setdefault(journey_service_day(journey, feed), []).append(journey)
    return days
