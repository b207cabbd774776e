"""The one error table: every domain error class the HTTP layer can meet, as the problem
document it answers (status, type slug, title), or deliberately listed as internal (a bug or
a broken server: a logged 500).

Routes do not catch domain errors: the problems middleware (faregate/api/problems.py) looks
the error up here, most specific class first (its MRO), so a new error is one line. A route
whose answer for an error differs from the table's (an unknown lot is 404 on an upload, but
409 where a barrier asks for its configuration) says so in its declaration
(`RouteRegistry.route(..., problems={UnknownLot: ...})`), which takes precedence there.

A domain error in neither this table nor `INTERNAL` is a 500 the middleware logs as unhandled,
and tests/api/test_error_table.py fails on any error class of an `errors` module that is
missing: an unmapped error is seen in tests, not in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import exc as sqlalchemy_errors

from faregate import errors as faregate_errors
from faregate.api.errors import Problem
from gateways import errors as gateway_errors
from parking import errors as parking_errors
from qr import errors as qr_errors
from ticketing import errors as ticketing_errors
from ticketing.fares import errors as fare_errors
from ticketing.gtfs import errors as gtfs_errors
from ticketing.ledger import errors as ledger_errors
from ticketing.payments import errors as payment_errors
from ticketing.settlement import errors as settlement_errors


@dataclass(frozen=True, slots=True)
class ProblemType:
    """How an error is answered. `detail` None: the error's own message (domain errors are
    written to be shown); otherwise a fixed text, where `{error}` stands for the message
    (a gateway's message may name our account: those answers use a fixed text)."""

    status: int
    slug: str
    title: str
    detail: str | None = None

    def problem(self, error: BaseException) -> Problem:
        message = str(error)
        detail = message if self.detail is None else self.detail.replace("{error}", message)
        # An error that says when to come back (SignInDelayed) says it in the header too.
        retry_after = getattr(error, "retry_after", None)
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return Problem(
            self.status, self.slug, self.title, detail,
            errors=field_errors(error), headers=headers,
        )  # fmt: skip


def field_errors(error: BaseException) -> list[tuple[str, str]]:
    """Each field and reason an error names, for the problem's `errors` member: every error of
    a tariff file (TariffErrors), or the one field of a tariff or a lot."""
    if isinstance(error, parking_errors.TariffErrors):
        return [(e.field or e.file, e.reason) for e in error.errors]
    if isinstance(error, parking_errors.TariffError):
        return [(error.field or error.file, error.reason)]
    if isinstance(error, parking_errors.LotError):
        return [(error.field, error.reason)]
    return []


Table = Mapping[type[BaseException], ProblemType]

VALIDATION = ProblemType(422, "validation", "Invalid body")
GATEWAY = ProblemType(
    502, "gateway", "Bad Gateway", "the payment gateway refused or did not answer"
)

ERRORS: Table = {
    # --- ticketing ---------------------------------------------------------------------------
    ticketing_errors.NaiveTime: VALIDATION,
    ticketing_errors.CurrencyError: VALIDATION,
    ticketing_errors.InvalidRecord: VALIDATION,
    ticketing_errors.InvalidUser: VALIDATION,
    ticketing_errors.InvalidAuditQuery: ProblemType(422, "validation", "Invalid query"),
    ticketing_errors.UnknownRecord: ProblemType(404, "unknown-record", "Not Found"),
    ticketing_errors.UnknownRider: ProblemType(404, "unknown-record", "Not Found"),
    ticketing_errors.UnknownUser: ProblemType(404, "unknown-user", "Unknown user"),
    ticketing_errors.RecordConflict: ProblemType(409, "record-conflict", "Conflict"),
    ticketing_errors.DayAlreadyPriced: ProblemType(409, "day-priced", "Conflict"),
    ticketing_errors.UnknownDenyListVersion: ProblemType(
        409, "deny-list-version", "Unknown deny-list version"
    ),
    ticketing_errors.CredentialNotIssued: ProblemType(
        503, "keys-unavailable", "Service Unavailable"
    ),
    ticketing_errors.PassOnAnotherPhone: ProblemType(409, "pass-on-another-phone", "Conflict"),
    ticketing_errors.MoveLimitReached: ProblemType(429, "move-limit", "Too Many Requests"),
    ticketing_errors.PassNotSold: ProblemType(409, "pass-not-sold", "Conflict"),
    ticketing_errors.PassOverlaps: ProblemType(409, "pass-overlaps", "Conflict"),
    ticketing_errors.TripCaseClosed: ProblemType(409, "case-resolved", "Conflict"),
    ticketing_errors.RefundAboveFare: ProblemType(
        422, "refund-above-fare", "Unprocessable Content"
    ),
    ticketing_errors.PassNeedsCard: ProblemType(409, "no-card", "Conflict"),
    ticketing_errors.PassNotRenewable: ProblemType(409, "pass-not-renewable", "Conflict"),
    ticketing_errors.PassPaymentDeclined: ProblemType(402, "card-declined", "Card declined"),
    ticketing_errors.UserExists: ProblemType(
        409, "user-exists", "Conflict", "this username is taken"
    ),
    ticketing_errors.BadCredentials: ProblemType(401, "bad-credentials", "Unauthorized"),
    ticketing_errors.ResetCodeRefused: ProblemType(
        422,
        "reset-code-refused",
        "Code refused",
        "this code is wrong, used or expired; ask for a new one",
    ),
    ticketing_errors.InvalidDevice: ProblemType(422, "validation", "Invalid device"),
    ticketing_errors.InvalidHeartbeat: ProblemType(422, "invalid-heartbeat", "Invalid heartbeat"),
    ticketing_errors.UnknownPlace: ProblemType(422, "validation", "Unknown place"),
    ticketing_errors.UnknownDevice: ProblemType(404, "unknown-device", "Unknown device"),
    ticketing_errors.DeviceExists: ProblemType(409, "device-exists", "Conflict"),
    ticketing_errors.EnrolmentRefused: ProblemType(403, "enrolment-refused", "Enrolment refused"),
    ticketing_errors.DeviceKeyMismatch: ProblemType(503, "device-key", "Service Unavailable"),
    ticketing_errors.WrongDeviceKind: ProblemType(403, "wrong-device-kind", "Wrong kind of device"),
    ticketing_errors.UnknownQuarantinedTap: ProblemType(
        404, "unknown-quarantined-tap", "No such quarantined tap"
    ),
    ticketing_errors.QuarantineResolved: ProblemType(
        409, "quarantine-resolved", "Already resolved"
    ),
    ticketing_errors.NotAttributable: ProblemType(422, "not-attributable", "Cannot resolve so"),
    fare_errors.FareError: ProblemType(409, "no-fare", "No fare"),
    ledger_errors.InsufficientFunds: ProblemType(
        409, "insufficient-funds", "Conflict", "the wallet does not hold the price"
    ),
    ledger_errors.CurrencyMismatch: VALIDATION,
    payment_errors.NoWallet: ProblemType(
        409, "not-prepaid", "Conflict", "a postpaid account has no wallet to top up"
    ),
    payment_errors.NoSavedCard: ProblemType(
        409, "no-card", "Conflict", "save a card before topping up"
    ),
    payment_errors.VNPayResultRefused: ProblemType(400, "vnpay-result-refused", "Bad Request"),
    payment_errors.VNPayNotConfigured: ProblemType(503, "vnpay-unavailable", "Service Unavailable"),
    payment_errors.PaymentInProgress: ProblemType(409, "payment-in-progress", "Conflict"),
    payment_errors.AttemptConflict: ProblemType(
        409,
        "request-id-reused",
        "Conflict",
        "this request_id was used for another payment; use a new request_id for a new one",
    ),
    payment_errors.RefundNotAllowed: ProblemType(409, "refund-refused", "Conflict"),
    payment_errors.NoWebhookSecret: ProblemType(
        503, "no-webhook-secret", "Service Unavailable", "this server takes no webhooks"
    ),
    settlement_errors.DayNotClosed: ProblemType(409, "day-not-closed", "Day not closed"),
    settlement_errors.DayOutsideCalendar: ProblemType(
        422, "outside-calendar", "Day outside the settlement calendar"
    ),
    settlement_errors.SettlementInProgress: ProblemType(
        409,
        "settlement-in-progress",
        "Settlement in progress",
        "{error}; retry when it has finished",
    ),
    settlement_errors.DayNotSettled: ProblemType(404, "not-settled", "Day not settled"),
    settlement_errors.NoSuchStatement: ProblemType(404, "no-such-statement", "No such statement"),
    settlement_errors.DayOutOfRange: ProblemType(422, "validation", "Invalid day"),
    settlement_errors.NotPrepared: ProblemType(409, "not-prepared", "Day not prepared"),
    settlement_errors.AlreadyApproved: ProblemType(409, "already-approved", "Day already approved"),
    settlement_errors.ReviewOutdated: ProblemType(409, "review-outdated", "Day changed"),
    settlement_errors.SettlementForbidden: ProblemType(403, "four-eyes", "Not allowed"),
    # --- parking -----------------------------------------------------------------------------
    parking_errors.TariffError: ProblemType(422, "tariff", "Invalid tariff"),
    parking_errors.QuoteError: ProblemType(422, "validation", "Stay cannot be priced"),
    parking_errors.SessionError: ProblemType(409, "session", "Conflict"),
    parking_errors.OccupancyError: ProblemType(409, "occupancy", "Conflict"),
    parking_errors.LotError: ProblemType(422, "validation", "Invalid lot"),
    parking_errors.LotExists: ProblemType(409, "lot-exists", "Conflict"),
    parking_errors.UnknownLot: ProblemType(404, "unknown-lot", "Unknown lot"),
    parking_errors.UnknownCase: ProblemType(404, "unknown-case", "Unknown case"),
    parking_errors.NoTariff: ProblemType(409, "no-tariff", "No tariff"),
    parking_errors.UnknownTariffVersion: ProblemType(404, "unknown-tariff", "Unknown tariff"),
    parking_errors.TariffScheduleError: ProblemType(409, "tariff-schedule", "Conflict"),
    parking_errors.CaseError: ProblemType(409, "case", "Conflict"),
    parking_errors.InvalidPlate: ProblemType(422, "validation", "Not a plate"),
    parking_errors.InspectionError: ProblemType(422, "validation", "Check cannot be made"),
    parking_errors.RemoteOpenError: ProblemType(409, "remote-open", "Conflict"),
    parking_errors.PermitError: ProblemType(409, "permit", "Conflict"),
    parking_errors.BarrierUploadError: ProblemType(
        409, "barrier-upload", "Upload cannot be applied"
    ),
    parking_errors.ImpossibleRecord: ProblemType(422, "impossible-record", "Impossible record"),
    # --- gateways ------------------------------------------------------------------------------
    gateway_errors.CardDeclined: ProblemType(402, "card-declined", "Card declined"),
    gateway_errors.GatewayRequestRejected: GATEWAY,
    gateway_errors.GatewayAuthError: GATEWAY,  # our credentials, whatever the route
    gateway_errors.GatewayOutcomeUnknown: ProblemType(
        502,
        "gateway",
        "Bad Gateway",
        "the payment gateway did not answer; retrying the same request is safe",
    ),
    gateway_errors.GatewayError: GATEWAY,
    gateway_errors.WebhookError: ProblemType(400, "webhook-refused", "Webhook refused"),
    # --- qr --------------------------------------------------------------------------------------
    qr_errors.NaiveTimeError: VALIDATION,
    qr_errors.TimeRangeError: VALIDATION,
    qr_errors.KeySetError: ProblemType(
        503, "keys-unavailable", "Service Unavailable", "the issuer keys cannot be used"
    ),
    qr_errors.CredentialError: ProblemType(422, "credential", "Invalid credential"),
    qr_errors.DenyListError: ProblemType(422, "validation", "Invalid deny list"),
    # --- the database ------------------------------------------------------------------------
    # Every pooled connection in use for the pool's whole wait: a server overloaded, not broken.
    # A device or client retries later (its upload is idempotent); a 500 would read as a bug.
    sqlalchemy_errors.TimeoutError: ProblemType(
        503, "busy", "Service Unavailable", "the server is busy; retry in a few seconds"
    ),
    # --- faregate ------------------------------------------------------------------------------
    faregate_errors.SettlementRefused: ProblemType(409, "settlement-refused", "Conflict"),
    faregate_errors.SignInDelayed: ProblemType(429, "rate-limited", "Too Many Requests"),
    faregate_errors.FormRefused: ProblemType(422, "validation", "Invalid form"),
}

# Errors that mean a bug or a broken server, not a bad request: a logged 500 (no detail out).
INTERNAL: frozenset[type[BaseException]] = frozenset(
    {
        ticketing_errors.InvalidAuditEntry,  # we wrote the entry
        ticketing_errors.InvalidMessage,  # we wrote the message
        ticketing_errors.OutboxError,
        ledger_errors.InvalidPosting,  # postings are built by our rules
        ledger_errors.InvalidAccountCode,
        ledger_errors.UnknownAccount,
        ledger_errors.UnknownPosting,
        ledger_errors.PostingConflict,
        ledger_errors.AlreadyReversed,
        ledger_errors.HoldError,
        payment_errors.GatewayMismatch,
        settlement_errors.InvalidSettlementInput,  # figures our own stores gathered
        settlement_errors.UnmappedLedgerAccount,
        settlement_errors.NoPayoutAccount,
        gtfs_errors.FeedError,
        parking_errors.LotsFileError,
        parking_errors.TariffPartRecorded,  # the tariff reader's own signal, caught inside it
        parking_errors.BarrierConfigurationError,
        qr_errors.PolicyError,
        qr_errors.GateStateError,
        qr_errors.ImageDecodeError,
        qr_errors.OutputError,
        gateway_errors.VNPayError,
        faregate_errors.DatabaseUrlError,
        faregate_errors.DatabaseUnavailable,
        faregate_errors.MigrationError,
        faregate_errors.MasterKeyError,
        faregate_errors.RedisUnavailable,
        faregate_errors.GatewayConfigError,
        faregate_errors.BackendError,  # the demo's, never met by a route
        faregate_errors.SettleError,
    }
)

# The roots of the hierarchies and their abstract bases, never raised as such: never mapped
# (a new error under one must be given its own line, not fall into a catch-all).
ROOTS: tuple[type[BaseException], ...] = (
    ticketing_errors.TicketingError,
    ticketing_errors.DeviceError,
    ticketing_errors.QuarantineError,
    ledger_errors.LedgerError,
    payment_errors.PaymentsError,
    settlement_errors.SettlementError,
    parking_errors.ParkingError,
    qr_errors.QRError,
    faregate_errors.FaregateError,
)


def problem_type(error: BaseException, overrides: Table | None = None) -> ProblemType | None:
    """The answer to `error`: the first class of its MRO in `overrides` (a route's own) or in
    `ERRORS`; None for an internal or unmapped error."""
    for kind in type(error).__mro__:
        if overrides and kind in overrides:
            return overrides[kind]
        if kind in INTERNAL:
            return None
        if kind in ERRORS:
            return ERRORS[kind]
    return None
