"""Control totals of a settled day, and the digest that pins its figures.

The controls (docs/SETTLEMENT.md §Controls), all must hold for the day to be settled cleanly:

- trial balance: the ledger's debits equal its credits (their difference is 0);
- money: operator payables + gateway fees + suspense = money collected, where "collected"
  comes from the money side (wallet debits for fares plus the gateway's net card receipts),
  not from the statements, so the identity checks the statements against the cash.
  Suspense is the run's movement of the ledger's suspense account, which must equal the
  movement of the exceptions table (what opened less what was resolved): the table and the
  ledger are checked against each other as well as against the cash;
- charges: every account-day charged for the day was charged exactly its fares of the day (the
  part its receivable pays); the accounts that were not are named.

The digest is sha256 over a canonical JSON of the day's settled figures (sorted keys, no
spaces, integers only, no run time or host), so settling the same day twice gives the same
digest and any changed figure gives another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ticketing.money import Money
from ticketing.settlement.apportion import Apportionment, RevenuePool
from ticketing.settlement.reconcile import OpenException
from ticketing.settlement.statements import Statement
from ticketing.settlement.summary import SettlementSummary, SuspenseSummary


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlTotals:
    currency: str
    trial_balance: int
    collected: int
    operator_payables: int
    fees: int
    suspense: int  # the run's movement of the ledger's suspense account
    suspense_exceptions: int  # the same movement by the exceptions table
    charges_mismatched: tuple[str, ...] = ()  # accounts charged other than the day's fares

    @property
    def difference(self) -> int:
        """collected - (payables + fees + suspense): 0 when the money control holds."""
        return self.collected - (self.operator_payables + self.fees + self.suspense)

    @property
    def trial_balance_ok(self) -> bool:
        return self.trial_balance == 0

    @property
    def money_ok(self) -> bool:
        return self.difference == 0

    @property
    def suspense_ok(self) -> bool:
        return self.suspense == self.suspense_exceptions

    @property
    def charges_ok(self) -> bool:
        return not self.charges_mismatched

    @property
    def ok(self) -> bool:
        return self.trial_balance_ok and self.money_ok and self.suspense_ok and self.charges_ok


def control_totals(
    statements: tuple[Statement, ...],
    *,
    currency: str,
    collected: int,
    fees: int,
    suspense: int,
    trial_balance: int,
    suspense_exceptions: int | None = None,
    charges_mismatched: tuple[str, ...] = (),
) -> ControlTotals:
    """The controls of a day; `trial_balance` is the ledger's debits less its credits,
    `suspense` the ledger's suspense movement, `suspense_exceptions` the exceptions table's
    (None: the caller has one figure for both)."""
    return ControlTotals(
        currency=currency,
        trial_balance=trial_balance,
        collected=collected,
        operator_payables=sum(s.net for s in statements),
        fees=fees,
        suspense=suspense,
        suspense_exceptions=suspense if suspense_exceptions is None else suspense_exceptions,
        charges_mismatched=charges_mismatched,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SettledDay:
    """Everything a settled day's reports show; `figures` is what the digest covers."""

    day: date
    currency: str
    taps: int
    account_days: int
    charges: int
    adjustments: int
    apportionment: Apportionment
    statements: tuple[Statement, ...]
    controls: ControlTotals
    exceptions_today: Mapping[str, int]  # reconciliation categories and settlement kinds
    open_exceptions: tuple[OpenException, ...]
    revenue_by_hour: Mapping[int, int] = field(default_factory=dict)
    # The run's own settlement exceptions (unpriced legs, uncollected days): kind -> (count,
    # amount); shown in the report's exceptions chart, counted in `exceptions_today`.
    day_exceptions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # The revenue pools apportioned (not in the figures or the digest): an operator's figure
    # drilled down to its pools (`ticketing.services.settlement_drilldown`).
    pools: tuple[RevenuePool, ...] = ()

    def figures(self) -> dict[str, Any]:
        """The day's settled figures as plain JSON values, in a canonical shape."""
        return {
            "day": self.day.isoformat(),
            "currency": self.currency,
            "taps": self.taps,
            "account_days": self.account_days,
            "charges": self.charges,
            "adjustments": self.adjustments,
            "collected": self.controls.collected,
            "apportioned": dict(self.apportionment.by_operator),
            "apportioned_by_kind": {
                str(kind): dict(shares) for kind, shares in self.apportionment.by_kind.items()
            },
            "statements": [
                {
                    "operator": s.operator_id,
                    "rides": s.rides,
                    "gross": s.gross,
                    "discounts": s.discounts,
                    "revenue": s.revenue,
                    "refunds": s.refunds,
                    "fees": s.fees,
                    "net": s.net,
                }
                for s in self.statements
            ],
            "controls": {
                "trial_balance": self.controls.trial_balance,
                "collected": self.controls.collected,
                "operator_payables": self.controls.operator_payables,
                "fees": self.controls.fees,
                "suspense": self.controls.suspense,
                "suspense_exceptions": self.controls.suspense_exceptions,
                "difference": self.controls.difference,
                "charges_mismatched": list(self.controls.charges_mismatched),
                "ok": self.controls.ok,
            },
            "exceptions": {str(k): v for k, v in self.exceptions_today.items()},
            "open_exceptions": [exception_figures(e, self.day) for e in self.open_exceptions],
            "revenue_by_hour": {
                f"{hour:02d}": amount for hour, amount in sorted(self.revenue_by_hour.items())
            },
        }

    def digest(self) -> str:
        return digest(self.figures())

    def summary(self, report: str) -> SettlementSummary:
        """The run's headline (`faregate settle --json`), `report` where the HTML report is."""
        open_suspense = sum(
            e.line.suspense for e in self.open_exceptions if e.line.currency == self.currency
        )
        return SettlementSummary(
            day=self.day,
            taps=self.taps,
            account_days=self.account_days,
            charges=self.charges,
            collected=Money(self.controls.collected, self.currency),
            apportioned=dict(self.apportionment.by_operator),
            suspense=SuspenseSummary(
                amount=Money(open_suspense, self.currency),
                moved=self.controls.suspense,
                open=len(self.open_exceptions),
            ),
            exceptions={str(k): v for k, v in self.exceptions_today.items()},
            adjustments=self.adjustments,
            control_ok=self.controls.ok,
            report=report,
            digest=self.digest(),
        )


def exception_figures(exception: OpenException, as_of: date) -> dict[str, Any]:
    line = exception.line
    return {
        "key": exception.key,
        "category": str(line.category),
        "side": str(line.side),
        "currency": line.currency,
        "amount": line.amount,
        "suspense": line.suspense,
        "ledger_ref": line.ledger_ref,
        "gateway_ref": line.gateway_ref,
        "charge_key": line.charge_key,
        "ledger_amount": line.ledger_amount,
        "gateway_amount": line.gateway_amount,
        "record_day": line.day.isoformat(),
        "first_seen": exception.first_seen.isoformat(),
        "age_days": line.age(as_of),
    }


def canonical_json(figures: Mapping[str, Any]) -> bytes:
    return json.dumps(figures, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(figures: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of `figures`."""
    return hashlib.sha256(canonical_json(figures)).hexdigest()
