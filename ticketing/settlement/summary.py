"""What a settlement run answers with, and what its reconcile stage hands the later stages.

`SettlementSummary` is the run's headline: `faregate settle --json` prints `as_json()` (issue
9's names), the finance API returns it, the demo prints it, and a settled day's record keeps
it so that a rerun returns the same value (`from_json`). `ReconciliationFigures` is what the
reconcile stage records for the apportion and report stages, which may run in a later process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ticketing.money import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class SuspenseSummary:
    """Open suspense after the run (in the day's currency), what the run moved, and how many
    exceptions are open."""

    amount: Money
    moved: int
    open: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementSummary:
    day: date
    taps: int
    account_days: int
    charges: int  # card charges collected for the day
    collected: Money
    apportioned: Mapping[str, int]  # operator id -> share, sorted by id
    suspense: SuspenseSummary
    exceptions: Mapping[str, int]  # kind -> count found by this run
    adjustments: int
    control_ok: bool
    report: str  # where the HTML report is (a path, or the API's URL of it)
    digest: str

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "taps": self.taps,
            "account_days": self.account_days,
            "charges": self.charges,
            "collected": {"amount": self.collected.amount, "currency": self.collected.currency},
            "apportioned": dict(self.apportioned),
            "suspense": {
                "amount": self.suspense.amount.amount,
                "currency": self.suspense.amount.currency,
                "moved": self.suspense.moved,
                "open": self.suspense.open,
            },
            "exceptions": dict(self.exceptions),
            "adjustments": self.adjustments,
            "control_ok": self.control_ok,
            "report": self.report,
            "digest": self.digest,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SettlementSummary:
        suspense = value["suspense"]
        return cls(
            day=date.fromisoformat(value["day"]),
            taps=int(value["taps"]),
            account_days=int(value["account_days"]),
            charges=int(value["charges"]),
            collected=Money(int(value["collected"]["amount"]), value["collected"]["currency"]),
            apportioned={str(k): int(v) for k, v in value["apportioned"].items()},
            suspense=SuspenseSummary(
                amount=Money(int(suspense["amount"]), suspense["currency"]),
                moved=int(suspense["moved"]),
                open=int(suspense["open"]),
            ),
            exceptions={str(k): int(v) for k, v in value["exceptions"].items()},
            adjustments=int(value["adjustments"]),
            control_ok=bool(value["control_ok"]),
            report=str(value["report"]),
            digest=str(value["digest"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconciliationFigures:
    """What the reconcile stage found for the period it listed (docs/SETTLEMENT.md §10)."""

    counts: Mapping[str, int] = field(default_factory=dict)  # category -> lines, matched left out
    # Gateway collected less refunded, less the ledger's collected less refunded for the same
    # records, less what earlier runs already counted for records read again.
    cash_difference: int = 0
    fees: int | None = None  # None: the gateway keeps no balance ledger
    resolved: tuple[str, ...] = ()  # exception keys this run resolved
    previous: tuple[str, ...] = ()  # exception keys open before this run
    suspense_moved: int = 0  # by the exceptions table: what opened less what was resolved
    # The newest object the gateway listed, by the gateway's own clock (which need not be the
    # ledger's): the next run lists the gateway from here.
    gateway_until: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "cash_difference": self.cash_difference,
            "fees": self.fees,
            "resolved": list(self.resolved),
            "previous": list(self.previous),
            "suspense_moved": self.suspense_moved,
            "gateway_until": None if self.gateway_until is None else self.gateway_until.isoformat(),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ReconciliationFigures:
        fees = value.get("fees")
        gateway_until = value.get("gateway_until")
        return cls(
            counts={str(k): int(v) for k, v in value.get("counts", {}).items()},
            cash_difference=int(value.get("cash_difference", 0)),
            fees=None if fees is None else int(fees),
            resolved=tuple(str(k) for k in value.get("resolved", ())),
            previous=tuple(str(k) for k in value.get("previous", ())),
            suspense_moved=int(value.get("suspense_moved", 0)),
            gateway_until=None if gateway_until is None else datetime.fromisoformat(gateway_until),
        )
