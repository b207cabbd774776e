"""Reading GTFS fare feeds (GTFS, Fares v1 and v2, Faregate's extension files) into records."""

from ticketing.gtfs.errors import FeedError
from ticketing.gtfs.loader import GtfsFeed, read_feed

__all__ = ["FeedError", "GtfsFeed", "read_feed"]
