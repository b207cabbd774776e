"""The one exception hierarchy of `ticketing`: everything it raises on bad input derives from TicketingError."""


class TicketingError(Exception):
    """Base of every error `ticketing` raises for bad input or a broken rule."""
