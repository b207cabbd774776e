"""The fare engine: price an account's taps against a GTFS (Fares v1/v2) feed, purely.

feed = load_feed("data/hanoi")
day = price_day(feed, taps, rider_category="adult", passes=held_passes)
day.total, day.legs, day.caps_applied, day.unpriced_legs
"""

from ticketing.fares.errors import FareError
from ticketing.fares.feed import FareFeed, Policy, load_feed
from ticketing.fares.passes import HeldPass, pass_validity
from ticketing.fares.pricing import (
    AppliedCap,
    DayPrice,
    PricedLeg,
    QuoteLeg,
    UnpricedLeg,
    price_day,
    price_journeys,
    quote,
    quote_journey_id,
)

__all__ = [
    "AppliedCap",
    "DayPrice",
    "FareError",
    "FareFeed",
    "HeldPass",
    "Policy",
    "PricedLeg",
    "QuoteLeg",
    "UnpricedLeg",
    "load_feed",
    "pass_validity",
    "price_day",
    "price_journeys",
    "quote",
    "quote_journey_id",
]
