"""The words of a settlement run: its stages in order, the states a day's record is in, and
the kinds of exception a run records (docs/SETTLEMENT.md §10).

Stored as their string values (the `settlement_days.stage` and `.state` columns, the
`settlement_exceptions.kind` column), so a value read back is `Stage(row.stage)`.
"""

from __future__ import annotations

import enum

from ticketing.settlement.reconcile import Category


class Stage(enum.StrEnum):
    """A run's stages, in the order they run; each is committed with a checkpoint."""

    CLOSED = "closed"
    PRICED = "priced"
    CHARGED = "charged"
    RECONCILED = "reconciled"
    APPORTIONED = "apportioned"
    REPORTED = "reported"

    @property
    def order(self) -> int:
        return _STAGE_ORDER[self]

    def includes(self, other: Stage) -> bool:
        """Whether a run whose last stage done is `self` has done `other`."""
        return self.order >= other.order


_STAGE_ORDER = {stage: index for index, stage in enumerate(Stage)}


class DayState(enum.StrEnum):
    """A settlement record's state: closed (its stages running, or to resume), failed (a run
    stopped on an error; the stages done stay done and a retry resumes), or settled."""

    CLOSED = "closed"
    FAILED = "failed"
    SETTLED = "settled"


class ExceptionKind(enum.StrEnum):
    """What a stored settlement exception is: a reconciliation line's category (in suspense),
    or one of the run's own (an unpriced leg, an uncollected account-day)."""

    MISSING_AT_GATEWAY = Category.MISSING_AT_GATEWAY.value
    UNKNOWN_AT_GATEWAY = Category.UNKNOWN_AT_GATEWAY.value
    AMOUNT_MISMATCH = Category.AMOUNT_MISMATCH.value
    DUPLICATE = Category.DUPLICATE.value
    REFUND = Category.REFUND.value
    UNPRICED_LEG = "unpriced_leg"
    UNCOLLECTED = "uncollected"

    @property
    def is_reconciliation(self) -> bool:
        return self.value in _CATEGORIES


_CATEGORIES = frozenset(c.value for c in Category if c is not Category.MATCHED)
RECONCILIATION_KINDS = frozenset(k for k in ExceptionKind if k.is_reconciliation)
DAY_KINDS = (ExceptionKind.UNPRICED_LEG, ExceptionKind.UNCOLLECTED)  # the run's own
