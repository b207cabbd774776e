"""The one error a fare feed raises when it cannot be read: which file, which line, and why;
and the warning it gives about a value it reads although the reference does not list it."""

from __future__ import annotations

from ticketing.errors import TicketingError


class FeedError(TicketingError):
    """A malformed, incomplete or inconsistent GTFS feed.

    `line` is the 1-based physical line of the CSV file (the header is line 1), or None when the
    problem is the file as a whole (missing, unreadable, no header).
    """

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        where = f"{file} line {line}" if line is not None else file
        super().__init__(f"{where}: {reason}")


class FeedWarning(UserWarning):
    """A value beyond the GTFS reference's enumerations that real feeds carry and other
    consumers read (a Fares v1 `transfers` of 3, as OpenTripPlanner reads it): read as it says,
    with this warning naming the file and line, instead of refusing the feed."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        super().__init__(f"{file} line {line}: {reason}")
