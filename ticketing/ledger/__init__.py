"""The double-entry ledger's rules as plain values: accounts, postings, holds, balance rules.

No I/O here; `ticketing.stores.ledger.Ledger` stores these values and enforces the same
rules against the database.
"""

from ticketing.ledger import accounts
from ticketing.ledger.accounts import AccountKind, AccountRef, AccountType, parse_code
from ticketing.ledger.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    HoldError,
    InsufficientFunds,
    InvalidAccountCode,
    InvalidPosting,
    LedgerError,
    PostingConflict,
    UnbalancedPosting,
    UnknownAccount,
    UnknownPosting,
)
from ticketing.ledger.holds import Hold, HoldStatus
from ticketing.ledger.postings import Entry, Posting, net_by_account, net_by_currency
from ticketing.ledger.reports import CurrencyTotals, InvariantCheck, InvariantReport, TrialBalance
from ticketing.ledger.rules import AccountState

__all__ = [
    "AccountKind",
    "AccountRef",
    "AccountState",
    "AccountType",
    "AlreadyReversed",
    "CurrencyMismatch",
    "CurrencyTotals",
    "Entry",
    "Hold",
    "HoldError",
    "HoldStatus",
    "InsufficientFunds",
    "InvalidAccountCode",
    "InvalidPosting",
    "InvariantCheck",
    "InvariantReport",
    "LedgerError",
    "Posting",
    "PostingConflict",
    "TrialBalance",
    "UnbalancedPosting",
    "UnknownAccount",
    "UnknownPosting",
    "accounts",
    "net_by_account",
    "net_by_currency",
    "parse_code",
]
