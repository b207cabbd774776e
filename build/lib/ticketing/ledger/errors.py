"""The ledger's errors: each broken ledger rule raises a LedgerError (a TicketingError)."""

from __future__ import annotations

from ticketing.errors import TicketingError


class LedgerError(TicketingError):
    """Base of every ledger rule violation."""


class InvalidPosting(LedgerError):
    """A posting is malformed: empty id, zero amount, naive time, bad metadata."""


class UnbalancedPosting(InvalidPosting):
    """Debits and credits of a posting differ in at least one currency."""


class InvalidAccountCode(LedgerError):
    """An account code that does not follow the `kind:segment[:segment]` scheme."""


class UnknownAccount(LedgerError):
    """No ledger account has this code."""


class UnknownPosting(LedgerError):
    """No posting has this id."""


class CurrencyMismatch(LedgerError):
    """An entry or hold in a currency other than its account's currency."""


class PostingConflict(LedgerError):
    """A posting id is already recorded with a different body."""

    def __init__(self, posting_id: str) -> None:
        super().__init__(f"posting {posting_id!r} already exists with a different body")
        self.posting_id = posting_id


class AlreadyReversed(LedgerError):
    """A posting is already reversed by another posting."""


class InsufficientFunds(LedgerError):
    """A debit would take an account with a floor (a wallet) below its overdraft limit."""

    def __init__(self, account: str, available: int, requested: int, currency: str) -> None:
        super().__init__(
            f"account {account!r} has {available} {currency} available, "
            f"{requested} {currency} requested"
        )
        self.account = account
        self.available = available
        self.requested = requested
        self.currency = currency


class HoldError(LedgerError):
    """A hold cannot be placed, captured or voided in its current state."""
