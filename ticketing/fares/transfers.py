"""Fares v2 fare_transfer_rules.txt: what a leg costs when it continues a sub-journey.

Per the GTFS reference: a rule's from/to leg group must equal the legs' groups, or be empty, which
stands for every group not listed in that column. Between groups that are the same, transfer_count
bounds the transfers in the sub-journey (-1: unbounded) and the rule with the smallest sufficient
count wins. fare_transfer_type 0 charges A + AB (the next leg costs AB), 1 charges A + AB + B,
2 charges AB in place of A for the first transfer (and S + BC after it, as type 0).

A rule with nonconsecutive_transfers_allowed=1 (proposed field, google/transit PR 498) may also
link the leg to an earlier leg of the sub-journey than the previous one; the rider pays the
cheapest of the transfers available from any leg of the sub-journey.

duration_limit_type 0 and 1 measure from the departure validation of the sub-journey's first leg
(TransLink-style "valid for 90 minutes after you first tap"); 2 and 3 from the arrival
validation of the previous leg. A leg's arrival, when unknown, is its departure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ticketing.fares.feed import FareFeed
from ticketing.gtfs.records import DurationLimitType, FareTransferRule, FareTransferType


@dataclass(frozen=True, slots=True)
class Transfer:
    """A matched transfer: its rule and the resulting leg charge."""

    rule: FareTransferRule
    charge: int


@dataclass(frozen=True, slots=True)
class LegTiming:
    departure: datetime
    arrival: datetime


def find_transfer(
    feed: FareFeed,
    from_group: str | None,
    to_group: str | None,
    transfer_number: int,
    first: LegTiming,
    previous: LegTiming,
    current: LegTiming,
    to_leg_amount: int,
    previous_charge: int,
    category: str | None,
    media: str | None,
    *,
    adjacent: bool = True,
) -> Transfer | None:
    """The transfer rule applying to `current` as transfer number `transfer_number` from the
    leg `previous` (an earlier, non-adjacent leg when `adjacent` is False), if any."""
    best: tuple[float, int, Transfer] | None = None
    for rule in feed.transfer_rules:
        if not adjacent and not rule.nonconsecutive_transfers_allowed:
            continue
        if not _group_ok(rule.from_leg_group_id, from_group, feed.transfer_groups_from):
            continue
        if not _group_ok(rule.to_leg_group_id, to_group, feed.transfer_groups_to):
            continue
        count = rule.transfer_count
        if count is not None and count != -1 and transfer_number > count:
            continue
        if rule.duration_limit is not None and not within_duration(
            rule.duration_limit,
            rule.duration_limit_type,
            first.departure,
            previous.arrival,
            current.departure,
            current.arrival,
        ):
            continue
        if rule.fare_product_id is None:
            amount = 0
        else:
            found = feed.amount_of(rule.fare_product_id, category, media)
            if found is None:
                continue
            amount = found
        if rule.fare_transfer_type is FareTransferType.A_PLUS_AB:
            charge = amount
        elif rule.fare_transfer_type is FareTransferType.A_PLUS_AB_PLUS_B:
            charge = amount + to_leg_amount
        else:
            charge = amount - previous_charge if transfer_number == 1 else amount
        rank = float("inf") if count is None or count == -1 else float(count)
        if best is None or (rank, charge) < best[:2]:
            best = (rank, charge, Transfer(rule, charge))
    return best[2] if best else None


def _group_ok(rule_group: str | None, leg_group: str | None, listed: set[str]) -> bool:
    if rule_group is not None:
        return rule_group == leg_group
    return leg_group is None or leg_group not in listed


def within_duration(
    limit: int,
    limit_type: DurationLimitType | None,
    first_departure: datetime,
    previous_arrival: datetime,
    current_departure: datetime,
    current_arrival: datetime,
) -> bool:
    """Whether a duration_limit (transfer or join rule) holds: types 0 and 1 measure from the
    first leg's departure, 2 and 3 from the previous leg's arrival; 0 and 3 up to the current
    leg's arrival, 1 and 2 up to its departure."""
    from_first = limit_type is not None and limit_type.from_first_departure
    start = first_departure if from_first else previous_arrival
    end = current_arrival if limit_type is not None and limit_type.to_arrival else current_departure
    return (end - start).total_seconds() <= limit
