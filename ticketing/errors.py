"""The one exception hierarchy of `ticketing`: all it raises on bad input is a TicketingError."""


class TicketingError(Exception):
    """Base of every error `ticketing` raises for bad input or a broken rule."""


class NaiveTime(TicketingError):
    """A time without a timezone where an instant is needed (a tap, a service day's moment)."""


class InvalidAuditEntry(TicketingError):
    """An audit line that cannot be recorded as given (a name, id or snapshot out of bounds)."""


class InvalidAuditQuery(TicketingError):
    """Filters or a page cursor the audit log cannot be read with."""


class InvalidMessage(TicketingError):
    """A message to a rider that cannot be sent as given (a template's parameters missing or
    of the wrong kind, a naive time, an empty dedup key) or a stored one that does not read."""


class OutboxError(TicketingError):
    """The outbox cannot be written or read (its file, its configuration)."""
