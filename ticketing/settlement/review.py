"""What a prepared day shows for review before a second finance user approves it (issue 19):
the card charges approving would make, and the statements as they stand before them.

Pure: built from a dry computation of the day (`compute.settle_day`) and the amounts owed,
stored as JSON on the day's record (`as_json`, read back by `from_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ticketing.money import Money
from ticketing.settlement.controls import SettledDay, digest

LARGEST_SHOWN = 10  # the largest charges listed by account; the rest are counted


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewStatement:
    operator: str
    rides: int
    gross: int
    net: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DayReview:
    """A prepared day's figures for review, in the day's currency."""

    currency: str
    taps: int
    account_days: int
    charges: int  # card charges approving would make
    charges_total: int
    largest: tuple[tuple[str, int], ...]  # (account, amount), largest first
    statements: tuple[ReviewStatement, ...]  # as they stand before the charges
    exceptions: Mapping[str, int]
    computed_at: datetime
    # sha256 of what approving would do: every charge (account and amount, not only the
    # largest shown), the statements and counts above. Approval runs only if the day still
    # computes to it (`ticketing.services.settlement.run_job`): what is approved is what was
    # reviewed.
    fingerprint: str

    @classmethod
    def of(
        cls, settled: SettledDay, owed: Mapping[str, Money], *, computed_at: datetime
    ) -> DayReview:
        ranked = sorted(owed.items(), key=lambda item: (-item[1].amount, item[0]))
        statements = tuple(
            ReviewStatement(operator=s.operator_id, rides=s.rides, gross=s.gross, net=s.net)
            for s in settled.statements
        )
        exceptions = {str(k): v for k, v in settled.exceptions_today.items()}
        pinned = {
            "currency": settled.currency,
            "taps": settled.taps,
            "account_days": settled.account_days,
            "charges": sorted([a, m.amount, m.currency] for a, m in owed.items()),
            "statements": [[s.operator, s.rides, s.gross, s.net] for s in statements],
            "exceptions": exceptions,
        }
        return cls(
            currency=settled.currency,
            taps=settled.taps,
            account_days=settled.account_days,
            charges=len(owed),
            charges_total=sum(m.amount for m in owed.values()),
            largest=tuple((a, m.amount) for a, m in ranked[:LARGEST_SHOWN]),
            statements=statements,
            exceptions=exceptions,
            computed_at=computed_at,
            fingerprint=digest(pinned),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "taps": self.taps,
            "account_days": self.account_days,
            "charges": {
                "count": self.charges,
                "total": self.charges_total,
                "largest": [{"account": a, "amount": n} for a, n in self.largest],
            },
            "statements": [
                {"operator": s.operator, "rides": s.rides, "gross": s.gross, "net": s.net}
                for s in self.statements
            ],
            "exceptions": dict(self.exceptions),
            "computed_at": self.computed_at.isoformat(),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DayReview:
        charges = value["charges"]
        return cls(
            currency=str(value["currency"]),
            taps=int(value["taps"]),
            account_days=int(value["account_days"]),
            charges=int(charges["count"]),
            charges_total=int(charges["total"]),
            largest=tuple((str(c["account"]), int(c["amount"])) for c in charges["largest"]),
            statements=tuple(
                ReviewStatement(
                    operator=str(s["operator"]),
                    rides=int(s["rides"]),
                    gross=int(s["gross"]),
                    net=int(s["net"]),
                )
                for s in value["statements"]
            ),
            exceptions={str(k): int(v) for k, v in value["exceptions"].items()},
            computed_at=datetime.fromisoformat(value["computed_at"]),
            fingerprint=str(value.get("fingerprint", "")),  # "" : reviewed before it existed
        )

    @property
    def charges_money(self) -> Money:
        return Money(self.charges_total, self.currency)
