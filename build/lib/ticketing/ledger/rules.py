"""The balance rules: what an account may still be debited, and applying changes to it.

Balances are debit-positive: a wallet holding 50,000 VND has balance -50,000. An account with
a floor (a wallet) may be debited only while `limit - balance - pending debits` covers the
debit; credits are always accepted, so a top-up can lift an overdrawn wallet part of the way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ticketing.ledger.accounts import AccountKind, parse_code
from ticketing.ledger.errors import CurrencyMismatch, InsufficientFunds, InvalidPosting
from ticketing.money import Money


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account as the ledger keeps it: posted balance, pending hold debits and its limit."""

    code: str
    kind: AccountKind
    currency: str
    balance: int = 0
    pending_debits: int = 0
    overdraft_limit: int = 0

    @classmethod
    def new(cls, code: str, currency: str, overdraft_limit: int = 0) -> AccountState:
        if overdraft_limit < 0:
            raise InvalidPosting(f"overdraft limit must not be negative, got {overdraft_limit}")
        return cls(code, parse_code(code).kind, currency, overdraft_limit=overdraft_limit)

    @property
    def available(self) -> int:
        """What may still be debited (for an account with a floor)."""
        return self.overdraft_limit - self.balance - self.pending_debits

    @property
    def normal_balance(self) -> Money:
        """The balance with the sign its owner expects: a funded wallet is positive."""
        sign = 1 if self.kind.account_type.debit_normal else -1
        return Money(sign * self.balance, self.currency)

    def _check(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise CurrencyMismatch(
                f"account {self.code!r} is in {self.currency}, not {amount.currency}"
            )
        if self.kind.has_floor and amount.amount > 0 and amount.amount > self.available:
            raise InsufficientFunds(self.code, self.available, amount.amount, self.currency)

    def apply(self, change: Money) -> AccountState:
        """This account after a posted change (debit-positive), refusing to break its floor."""
        self._check(change)
        return replace(self, balance=self.balance + change.amount)

    def reserve(self, amount: Money) -> AccountState:
        """This account with a hold debit pending (the hold must fit under the floor too)."""
        if amount.amount <= 0:
            raise InvalidPosting(f"hold amount must be positive, got {amount.amount}")
        self._check(amount)
        return replace(self, pending_debits=self.pending_debits + amount.amount)

    def release(self, amount: Money) -> AccountState:
        """This account with a pending hold debit removed (on capture or void)."""
        if amount.currency != self.currency or amount.amount > self.pending_debits:
            raise InvalidPosting(f"account {self.code!r} has no pending {amount} to release")
        return replace(self, pending_debits=self.pending_debits - amount.amount)
