"""Caltrain (a real Fares v1 feed, 2009): one-way fares by zones, and transfers on one fare.

The feed's fares have empty `transfers` (unlimited) and no `transfer_duration`, so a run of
rides within the journey time (180 minutes by default) is one fare from its first origin zone
to its last destination zone, when that fare is no cheaper than the run's leading part.
Also: the feed is the archive its README describes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

from ticketing.fares import QuoteLeg, load_feed, quote

NOON = datetime.fromisoformat("2009-08-07T12:00:00-07:00")
MILLBRAE, MOUNTAIN_VIEW, SAN_JOSE = (
    "Millbrae Caltrain",
    "Mountain View Caltrain",
    "San Jose Caltrain",
)


def test_a_change_of_train_is_one_fare_from_first_origin_to_last_destination(
    caltrain: Path,
) -> None:
    feed = load_feed(caltrain)
    # Millbrae (zone 2) -> Mountain View (3) on a local, then on to San Jose (4) on a bullet:
    # OW_3 (zone 2 to 4, 6.00) rather than OW_2 + OW_2 (8.50).
    legs = [
        QuoteLeg("ct_local", MILLBRAE, MOUNTAIN_VIEW, NOON),
        QuoteLeg("ct_bullet", MOUNTAIN_VIEW, SAN_JOSE, NOON + timedelta(minutes=50)),
    ]
    day = quote(feed, legs)
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("OW_3", 600),
        ("OW_3", 0),
    ]
    assert [leg.undiscounted.amount for leg in day.legs] == [425, 425]
    # Past the journey time the second ride is a fare of its own.
    late = [
        legs[0],
        QuoteLeg("ct_bullet", MOUNTAIN_VIEW, SAN_JOSE, NOON + timedelta(hours=3, minutes=1)),
    ]
    assert quote(feed, late).total.amount == 425 + 425


def test_the_feed_is_the_archive_its_readme_names(caltrain: Path) -> None:
    digest = hashlib.sha256(caltrain.read_bytes()).hexdigest()
    readme = (caltrain.parent / "README.md").read_text(encoding="utf-8")
    assert f"SHA-256 `{digest}`" in readme


def test_a_round_trip_within_the_journey_time_is_two_one_way_fares(caltrain: Path) -> None:
    # The reference's first-origin / last-destination reading (and OpenTripPlanner) would price
    # a return within the transfer window as one run 2 -> 2, OW_1 (2.50): less than the outward
    # leg alone. The prefix rule (docs/FARES.md) allows a run only a fare no cheaper than its
    # leading part, and no 2 -> 2 fare costs 4.25 or more: two one-way fares.
    feed = load_feed(caltrain)
    out = QuoteLeg("ct_local", MILLBRAE, MOUNTAIN_VIEW, NOON)
    back = QuoteLeg("ct_local", MOUNTAIN_VIEW, MILLBRAE, NOON + timedelta(hours=2))
    assert quote(feed, [out]).total.amount == 425
    day = quote(feed, [out, back])
    assert [(leg.fare_product_id, leg.charged.amount) for leg in day.legs] == [
        ("OW_2", 425),
        ("OW_2", 425),
    ]
    assert [leg.transfer_product_id for leg in day.legs] == [None, None]
    # Going on from Mountain View instead grows the run: OW_3 (6.00) is no cheaper than OW_2.
    on = QuoteLeg("ct_bullet", MOUNTAIN_VIEW, SAN_JOSE, NOON + timedelta(hours=2))
    assert quote(feed, [out, on]).total.amount == 600
