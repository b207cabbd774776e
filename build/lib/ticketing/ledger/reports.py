"""What the ledger reports about itself: the trial balance and the invariant checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    """Sums of all debits and all credits (as a positive number) in one currency."""

    debits: int
    credits: int

    @property
    def net(self) -> int:
        return self.debits - self.credits


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """Per currency, every account's balance summed: zero when the books balance."""

    totals: Mapping[str, CurrencyTotals] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "totals", MappingProxyType(dict(self.totals)))

    @property
    def balanced(self) -> bool:
        return all(t.net == 0 for t in self.totals.values())

    def to_json(self) -> dict[str, dict[str, int]]:
        return {
            currency: {"debits": t.debits, "credits": t.credits, "net": t.net}
            for currency, t in sorted(self.totals.items())
        }


@dataclass(frozen=True, slots=True)
class InvariantCheck:
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class InvariantReport:
    """The trial balance and each named invariant; `ok` only if all hold."""

    trial_balance: TrialBalance
    checks: tuple[InvariantCheck, ...]

    @property
    def ok(self) -> bool:
        return self.trial_balance.balanced and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[InvariantCheck, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "trial_balance": self.trial_balance.to_json(),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }
