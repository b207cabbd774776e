"""Ledger account kinds, their accounting type and the codes that name them.

A code is `kind:segment[:segment]`, e.g. `wallet:acc-42`, `operator:metro-2a`,
`gateway:stripe:clearing`. Codes are plain strings so they travel through the database and
JSON unchanged; the builders below are the only way the code base spells them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from ticketing.ledger.errors import InvalidAccountCode

MAX_CODE_LENGTH = 200
_SEGMENT = re.compile(r"[^\s:]+")


class AccountType(enum.StrEnum):
    """The five accounting types; the first two are debit-normal."""

    ASSET = "asset"
    EXPENSE = "expense"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EQUITY = "equity"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountType.ASSET, AccountType.EXPENSE)


class AccountKind(enum.StrEnum):
    """What an account holds. The value is the first segment of its code."""

    WALLET = "wallet"  # prepaid money we owe the passenger
    RECEIVABLE = "receivable"  # postpaid fares the passenger owes us
    OPERATOR = "operator"  # what we owe one operator (metro line, bus, parking)
    GATEWAY_CLEARING = "gateway-clearing"  # money the gateway holds for us
    GATEWAY_FEES = "gateway-fees"  # what the gateway charged us
    SUSPENSE = "suspense"  # amounts not yet matched to anything
    UNEARNED = "unearned"  # passes sold, not yet apportioned to operators
    REVENUE = "revenue"  # our own income, e.g. breakage
    # Money collected before the ledger's first day (on earlier days, by an earlier system),
    # which the clearing house holds: the opening side of balances carried into wallets.
    CARRIED = "carried"

    @property
    def account_type(self) -> AccountType:
        return _TYPES[self]

    @property
    def has_floor(self) -> bool:
        """Whether debits may not take the account past its overdraft limit."""
        return self is AccountKind.WALLET


_TYPES: dict[AccountKind, AccountType] = {
    AccountKind.WALLET: AccountType.LIABILITY,
    AccountKind.RECEIVABLE: AccountType.ASSET,
    AccountKind.OPERATOR: AccountType.LIABILITY,
    AccountKind.GATEWAY_CLEARING: AccountType.ASSET,
    AccountKind.GATEWAY_FEES: AccountType.EXPENSE,
    AccountKind.SUSPENSE: AccountType.LIABILITY,
    AccountKind.UNEARNED: AccountType.LIABILITY,
    AccountKind.REVENUE: AccountType.REVENUE,
    AccountKind.CARRIED: AccountType.ASSET,
}


def _segment(value: str) -> str:
    if not _SEGMENT.fullmatch(value):
        raise InvalidAccountCode(f"account code segment {value!r} is empty or has ':' or spaces")
    return value


def _code(*segments: str) -> str:
    code = ":".join(_segment(s) for s in segments)
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidAccountCode(f"account code longer than {MAX_CODE_LENGTH} characters")
    return code


def wallet(account_id: str) -> str:
    return _code("wallet", account_id)


def receivable(account_id: str) -> str:
    return _code("receivable", account_id)


def operator(operator_id: str) -> str:
    return _code("operator", operator_id)


def gateway_clearing(gateway: str) -> str:
    return _code("gateway", gateway, "clearing")


def gateway_fees(gateway: str) -> str:
    return _code("gateway", gateway, "fees")


def suspense(topic: str) -> str:
    return _code("suspense", topic)


def unearned(stream: str) -> str:
    return _code("unearned", stream)


def revenue(stream: str) -> str:
    return _code("revenue", stream)


def carried(topic: str) -> str:
    return _code("carried", topic)


BREAKAGE = revenue("breakage")


@dataclass(frozen=True, slots=True)
class AccountRef:
    """A parsed code: its kind and the owner it names (rider account, operator, gateway, topic)."""

    code: str
    kind: AccountKind
    owner: str


_SIMPLE_KINDS = {
    "wallet": AccountKind.WALLET,
    "receivable": AccountKind.RECEIVABLE,
    "operator": AccountKind.OPERATOR,
    "suspense": AccountKind.SUSPENSE,
    "unearned": AccountKind.UNEARNED,
    "revenue": AccountKind.REVENUE,
    "carried": AccountKind.CARRIED,
}
_GATEWAY_KINDS = {"clearing": AccountKind.GATEWAY_CLEARING, "fees": AccountKind.GATEWAY_FEES}


def parse_code(code: str) -> AccountRef:
    """Check a code against the scheme and say what it names."""
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidAccountCode(f"account code longer than {MAX_CODE_LENGTH} characters")
    parts = code.split(":")
    if not all(_SEGMENT.fullmatch(p) for p in parts):
        raise InvalidAccountCode(f"malformed account code {code!r}")
    if len(parts) == 2 and parts[0] in _SIMPLE_KINDS:
        return AccountRef(code, _SIMPLE_KINDS[parts[0]], parts[1])
    if len(parts) == 3 and parts[0] == "gateway" and parts[2] in _GATEWAY_KINDS:
        return AccountRef(code, _GATEWAY_KINDS[parts[2]], parts[1])
    raise InvalidAccountCode(f"unknown account code {code!r}")
