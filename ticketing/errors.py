"""The one exception hierarchy of `ticketing`: all it raises on bad input is a TicketingError."""


class TicketingError(Exception):
    """Base of every error `ticketing` raises for bad input or a broken rule."""


class NaiveTime(TicketingError):
    """A time without a timezone where an instant is needed (a tap, a service day's moment)."""
