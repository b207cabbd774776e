"""Holds: a pending debit that reserves funds (parking entry), later posted with the real amount
(at most the held amount) or voided. Modelled on TigerBeetle's pending transfers."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime

from ticketing.ledger.accounts import parse_code
from ticketing.ledger.errors import HoldError, InvalidPosting
from ticketing.ledger.postings import MAX_POSTING_ID_LENGTH, Posting
from ticketing.money import Money


class HoldStatus(enum.StrEnum):
    PENDING = "pending"
    CAPTURED = "captured"
    VOIDED = "voided"


@dataclass(frozen=True, slots=True)
class Hold:
    """`amount` reserved on `debit` for `credit`; captured amount and posting id once captured."""

    id: str
    debit: str
    credit: str
    amount: Money
    created_at: datetime
    description: str = ""
    status: HoldStatus = HoldStatus.PENDING
    posting_id: str | None = None
    captured_amount: Money | None = None
    resolved_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > MAX_POSTING_ID_LENGTH:
            raise InvalidPosting(f"hold id must be 1..{MAX_POSTING_ID_LENGTH} characters")
        parse_code(self.debit)
        parse_code(self.credit)
        if self.debit == self.credit:
            raise InvalidPosting(f"hold {self.id!r} debits and credits the same account")
        if self.amount.amount <= 0:
            raise InvalidPosting(f"hold {self.id!r}: amount must be positive")
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise InvalidPosting(f"hold {self.id!r}: created_at must be timezone-aware")

    @property
    def body_hash(self) -> str:
        """What a retried `hold` call must repeat: accounts, amount and description (not the
        time, so a retry after a timeout is recognised as the same hold)."""
        body = [self.debit, self.credit, self.amount.currency, self.amount.amount, self.description]
        return hashlib.sha256(json.dumps(body, ensure_ascii=False).encode()).hexdigest()

    def capture(self, posting_id: str, amount: Money, at: datetime) -> tuple[Hold, Posting]:
        """Post the real amount (0 < amount <= held) and mark the hold captured."""
        if self.status is not HoldStatus.PENDING:
            raise HoldError(f"hold {self.id!r} is {self.status}, cannot capture")
        if amount.currency != self.amount.currency:
            raise HoldError(f"hold {self.id!r} is in {self.amount.currency}, not {amount.currency}")
        if not 0 < amount.amount <= self.amount.amount:
            raise HoldError(
                f"hold {self.id!r}: capture {amount.amount} must be in 1..{self.amount.amount}"
                " (void a hold to release it without charge)"
            )
        posting = Posting.transfer(
            posting_id,
            debit=self.debit,
            credit=self.credit,
            amount=amount,
            occurred_at=at,
            description=self.description or f"capture of hold {self.id}",
            metadata={"hold": self.id},
        )
        captured = replace(
            self,
            status=HoldStatus.CAPTURED,
            posting_id=posting_id,
            captured_amount=amount,
            resolved_at=at,
        )
        return captured, posting

    def void(self, at: datetime) -> Hold:
        if self.status is not HoldStatus.PENDING:
            raise HoldError(f"hold {self.id!r} is {self.status}, cannot void")
        return replace(self, status=HoldStatus.VOIDED, resolved_at=at)
