"""Errors of the payment flows; all are TicketingError (shown to CLI users as one line)."""

from __future__ import annotations

from ticketing.errors import TicketingError


class PaymentsError(TicketingError):
    """Base of every payments-flow error."""


class NoSavedCard(PaymentsError):
    """The account has no gateway customer or no saved card to charge."""


class NoWallet(PaymentsError):
    """A top-up for an account that pays by card after riding (postpaid): no fare ever uses a
    wallet there, so money put in it would only sit."""


class PaymentInProgress(PaymentsError):
    """Another worker holds the claim on this payment right now; try again later."""


class AttemptConflict(PaymentsError):
    """The idempotency key is already used for a payment with another amount or account."""


class RefundNotAllowed(PaymentsError):
    """The payment did not succeed, or the refund exceeds what is left to refund."""


class GatewayMismatch(PaymentsError):
    """The gateway reports an amount or currency other than the one we asked for."""


class NoWebhookSecret(PaymentsError):
    """Webhooks arrived but the payments service was built without the secret to verify them."""


class VNPayResultRefused(PaymentsError):
    """A payment result said to come from VNPay that is not VNPay's (a signature that does not
    match, a malformed or different amount) or names no order of this account."""


class VNPayNotConfigured(PaymentsError):
    """This server has no VNPay terminal (VNPAY_TMN_CODE and VNPAY_HASH_SECRET unset)."""
