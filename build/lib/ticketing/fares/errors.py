"""Errors the fare engine raises when a ride cannot be priced as asked."""

from __future__ import annotations

from ticketing.errors import TicketingError


class FareError(TicketingError):
    """A request the feed cannot answer: no fare for a leg, an unknown rider category or pass."""
