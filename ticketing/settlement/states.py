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
    UNCOLLECTED_PARKING = "uncollected_parking"  # parking on a receivable, its charge not paid
    SHARED_CODE = "shared_code"  # one code accepted at two gates of a station (shared_codes.py)

    @property
    def is_reconciliation(self) -> bool:
        return self.value in _CATEGORIES


_CATEGORIES = frozenset(c.value for c in Category if c is not Category.MATCHED)
RECONCILIATION_KINDS = frozenset(k for k in ExceptionKind if k.is_reconciliation)
DAY_KINDS = (  # the run's own
    ExceptionKind.UNPRICED_LEG,
    ExceptionKind.UNCOLLECTED,
    ExceptionKind.UNCOLLECTED_PARKING,
    ExceptionKind.SHARED_CODE,
)


class Job(enum.StrEnum):
    """Work on a day waiting for a settlement runner (`settlement_days.job`): prepare (close,
    price, the figures for review) or approve (charge, reconcile, apportion, report)."""

    PREPARE = "prepare"
    APPROVE = "approve"

    @property
    def last_stage(self) -> Stage:
        """The stage this work ends with."""
        return Stage.PRICED if self is Job.PREPARE else Stage.REPORTED


class RunState(enum.StrEnum):
    """A day's settlement run as finance follows it (the API's and the page's `state`)."""

    OPEN = "open"  # before its cut-off: nothing can start
    CLOSED = "closed"  # past its cut-off, not prepared: a finance user may prepare it
    PREPARING = "preparing"  # prepare asked: closing, pricing, the figures for review
    PREPARED = "prepared"  # ready for review: a second finance user may approve it
    SETTLING = "settling"  # approved: charging, reconciling, apportioning, reporting
    FAILED = "failed"  # stopped on an error; its stages done are kept, and a retry resumes
    SETTLED = "settled"
