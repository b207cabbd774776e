"""Errors of the settlement rules: each is a SettlementError, itself a TicketingError."""

from __future__ import annotations

from ticketing.errors import TicketingError


class SettlementError(TicketingError):
    """Base of every settlement rule violation."""


class InvalidSettlementInput(SettlementError):
    """A figure handed to the rules is malformed: negative, mixed currencies, naive time."""


class DayOutOfRange(SettlementError):
    """A service day outside the years settlement handles (1970 to 8999): its instants do not
    fit a datetime in every timezone, and no tap was ever taken on it."""


class DayNotClosed(SettlementError):
    """The day's cut-off (04:00 the next morning) has not passed yet."""


class DayOutsideCalendar(SettlementError):
    """The day is before the settlement calendar's first day: nothing happened on it or before."""


class SettlementInProgress(SettlementError):
    """Another settlement of the day is running."""


class DayNotSettled(SettlementError):
    """The day has no settled figures (not settled yet, or never a service day)."""


class NoSuchStatement(SettlementError):
    """No report file of this name for the day (not one a run writes, or not kept here)."""


class UnmappedLedgerAccount(SettlementError):
    """A posting line on a kind of ledger account the chart of accounts does not map."""


class NoPayoutAccount(SettlementError):
    """The payouts file cannot be written: no clearing house (debtor) bank account."""


class NotPrepared(SettlementError):
    """Approval asked of a day that is not prepared (not yet, or still preparing)."""


class AlreadyApproved(SettlementError):
    """Prepare asked again of a day already approved (retry its approval instead)."""


class SettlementForbidden(SettlementError):
    """Someone whose role may not prepare or approve a settlement asked to."""


class FourEyes(SettlementForbidden):
    """The finance user who prepared a day asked to approve it: a second user must."""


class ReviewOutdated(SettlementError):
    """What approving a day would do is no longer what was reviewed (taps, prices or amounts
    owed changed since it was prepared): the day is prepared again, then approved."""
