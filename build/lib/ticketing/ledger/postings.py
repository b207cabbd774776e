"""Postings: balanced sets of entries with a client-chosen id, and their reversals.

An entry's amount is signed: positive debits the account, negative credits it. A `Posting`
cannot be built unbalanced; this constructor is the one place that enforces debits == credits
per currency (on PostgreSQL a trigger repeats the check for every INSERT into `entries`, so writes
that bypass this class are held to it too).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from ticketing.ledger.accounts import parse_code
from ticketing.ledger.errors import CurrencyMismatch, InvalidPosting, UnbalancedPosting
from ticketing.money import Money

MAX_POSTING_ID_LENGTH = 200
MetadataValue = str | int | bool | None


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a posting: `amount` > 0 debits `account`, < 0 credits it."""

    account: str
    amount: Money

    def __post_init__(self) -> None:
        parse_code(self.account)
        if self.amount.amount == 0:
            raise InvalidPosting(f"zero entry on {self.account!r}")

    @classmethod
    def debit(cls, account: str, amount: Money) -> Entry:
        if amount.amount <= 0:
            raise InvalidPosting(f"debit amount must be positive, got {amount.amount}")
        return cls(account, amount)

    @classmethod
    def credit(cls, account: str, amount: Money) -> Entry:
        if amount.amount <= 0:
            raise InvalidPosting(f"credit amount must be positive, got {amount.amount}")
        return cls(account, -amount)


def _frozen_metadata(metadata: Mapping[str, MetadataValue]) -> Mapping[str, MetadataValue]:
    for key, value in metadata.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str | int | bool)):
            raise InvalidPosting(f"metadata {key!r}: values must be str, int, bool or None")
    return MappingProxyType(dict(metadata))


@dataclass(frozen=True, slots=True)
class Posting:
    """A balanced, immutable transfer of value between ledger accounts.

    `id` is chosen by the client from domain ids (e.g. `fare:acc-42:2025-03-01:v1`) so a retry
    carries the same id and the ledger records it once. `reverses` names the posting this one
    reverses, if any.
    """

    id: str
    entries: tuple[Entry, ...]
    occurred_at: datetime
    description: str = ""
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)
    reverses: str | None = None
    _body_hash: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > MAX_POSTING_ID_LENGTH or self.id != self.id.strip():
            raise InvalidPosting(
                f"posting id must be 1..{MAX_POSTING_ID_LENGTH} characters without padding"
            )
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise InvalidPosting(f"posting {self.id!r}: occurred_at must be timezone-aware")
        if self.reverses == self.id:
            raise InvalidPosting(f"posting {self.id!r} cannot reverse itself")
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "metadata", _frozen_metadata(self.metadata))
        if len(self.entries) < 2:
            raise InvalidPosting(f"posting {self.id!r} needs at least two entries")
        unbalanced = {c: net for c, net in net_by_currency(self.entries).items() if net != 0}
        if unbalanced:
            raise UnbalancedPosting(f"posting {self.id!r} does not balance: net {unbalanced}")

    @classmethod
    def transfer(
        cls,
        posting_id: str,
        *,
        debit: str,
        credit: str,
        amount: Money,
        occurred_at: datetime,
        description: str = "",
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> Posting:
        """The common two-entry posting: `amount` from the credited to the debited account."""
        return cls(
            posting_id,
            (Entry.debit(debit, amount), Entry.credit(credit, amount)),
            occurred_at,
            description,
            metadata or {},
        )

    def reversal(
        self, reversal_id: str, *, occurred_at: datetime, description: str | None = None
    ) -> Posting:
        """The posting that undoes this one: every entry negated; corrections never update."""
        return Posting(
            reversal_id,
            tuple(Entry(e.account, -e.amount) for e in self.entries),
            occurred_at,
            description if description is not None else f"reversal of {self.id}",
            {},
            reverses=self.id,
        )

    @property
    def accounts(self) -> frozenset[str]:
        return frozenset(e.account for e in self.entries)

    def canonical_body(self) -> str:
        """The posting as canonical JSON: equal bodies give equal text whatever the entry order."""
        body = {
            "entries": sorted(
                [e.account, e.amount.currency, e.amount.amount] for e in self.entries
            ),
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "description": self.description,
            "metadata": dict(self.metadata),
            "reverses": self.reverses,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def body_hash(self) -> str:
        """SHA-256 of the canonical body; a retry with the same id must present the same hash."""
        if self._body_hash is None:  # computed once: batches compare it several times
            digest = hashlib.sha256(self.canonical_body().encode()).hexdigest()
            object.__setattr__(self, "_body_hash", digest)
            return digest
        return self._body_hash


def net_by_currency(entries: Iterable[Entry]) -> dict[str, int]:
    """Sum of signed amounts per currency (zero for every currency in a balanced posting)."""
    totals: dict[str, int] = defaultdict(int)
    for entry in entries:
        totals[entry.amount.currency] += entry.amount.amount
    return dict(totals)


def net_by_account(postings: Iterable[Posting]) -> dict[str, Money]:
    """Each account's net change over some postings (used to apply a batch at once)."""
    totals: dict[str, Money] = {}
    for posting in postings:
        for entry in posting.entries:
            prior = totals.get(entry.account)
            if prior is not None and prior.currency != entry.amount.currency:
                raise CurrencyMismatch(f"account {entry.account!r} used in two currencies")
            totals[entry.account] = entry.amount if prior is None else prior + entry.amount
    return totals
