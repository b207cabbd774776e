"""Rider accounts, passes bought and credentials issued, as plain values the services return."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from ticketing.money import Money


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    DEBT_RECOVERY = "debt_recovery"  # a charge was declined; credentials may be denied
    CLOSED = "closed"


class PaymentMode(enum.StrEnum):
    PREPAID_WALLET = "prepaid_wallet"  # fares debit the wallet
    POSTPAID_CARD = "postpaid_card"  # fares accrue on the receivable, charged once a day


class PassStatus(enum.StrEnum):
    ACTIVE = "active"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class DenyAction(enum.StrEnum):
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class RiderAccount:
    """`overdraft_limit` lets a prepaid wallet go that far below zero; `debt_limit` is how much
    unpaid postpaid debt is tolerated before the account's credentials are denied."""

    id: str
    rider_category: str
    payment_mode: PaymentMode
    currency: str
    status: AccountStatus = AccountStatus.ACTIVE
    overdraft_limit: int = 0
    debt_limit: int = 0


@dataclass(frozen=True, slots=True)
class PassRecord:
    """A fare product bought by an account, valid over [valid_from, valid_until)."""

    id: str
    account_id: str
    fare_product_id: str
    valid_from: datetime
    valid_until: datetime
    price: Money
    purchased_at: datetime
    status: PassStatus = PassStatus.ACTIVE
    posting_id: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """A credential issued to an account (optionally for one pass); revoked credentials stay."""

    credential_id: int
    account_id: str
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    pass_id: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


class CredentialOwner(NamedTuple):
    """Whose a credential is and since when it is revoked: what attributing a tap reads of it
    (`ticketing.journal.attribute`), a few hundred per upload, so a tuple rather than a whole
    `CredentialRecord`."""

    account_id: str
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class DenyListEvent:
    version: int
    credential_id: int
    action: DenyAction
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DenyListHistory:
    """Deny-list events after `since` up to `version`, oldest first, with their reasons (the
    audit trail; gates receive the net `qr.denylist.DenyListDelta`)."""

    since: int
    version: int
    events: tuple[DenyListEvent, ...]


class TripCaseKind(enum.StrEnum):
    """What a rider reports about a trip."""

    MISSED_TAP_OUT = "missed_tap_out"  # charged the longest fare for a journey they finished
    DOUBLE_CHARGE = "double_charge"
    OTHER = "other"


class TripCaseStatus(enum.StrEnum):
    """`open` until finance decides: `refunded` (money back through the ledger) or
    `declined` (with the reason the rider is shown)."""

    OPEN = "open"
    REFUNDED = "refunded"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True)
class TripCase:
    """A problem a rider reported on one priced trip (its day, start and route), and finance's
    decision: the amount refunded or the reason declined, by whom and when."""

    id: str
    account_id: str
    service_day: date
    started_at: datetime
    route_id: str
    operator_id: str
    fare: Money
    kind: TripCaseKind
    note: str
    status: TripCaseStatus
    opened_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    refunded: Money | None = None
    reason: str | None = None
