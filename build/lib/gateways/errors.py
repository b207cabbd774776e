"""The one exception hierarchy of `gateways`: every gateway failure derives from GatewayError.

GatewayError
├── CardDeclined              the issuer refused: a definite outcome, retrying won't help
├── GatewayRequestRejected    the gateway refused our request (4xx): a bug or bad input
│   ├── GatewayAuthError      wrong or missing API key (401/403)
│   └── GatewayNotFound       no such object at the gateway (404)
├── GatewayOutcomeUnknown     we don't know whether the gateway acted: look before retrying
│   ├── GatewayTimeout        no answer within the client timeout
│   ├── GatewayUnavailable    5xx, 429 or connection refused
│   ├── GatewayConnectionLost the connection broke before a complete answer arrived
│   └── GatewayProtocolError  an answer we cannot make sense of
├── WebhookError              a webhook delivery we refuse (→ HTTP 400)
│   ├── WebhookSignatureError missing/invalid signature, wrong secret, altered body, stale
│   └── WebhookPayloadError   the signed body is not a well-formed event
└── VNPayError                building a VNPay request or reading its answer failed
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error a payment gateway adapter raises."""


class CardDeclined(GatewayError):
    """The card was declined; `payment_id` names the failed payment when the gateway made one."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        decline_code: str | None = None,
        payment_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.decline_code = decline_code
        self.payment_id = payment_id


class GatewayRequestRejected(GatewayError):
    """The gateway answered that our request is invalid; it did not act on it."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class GatewayAuthError(GatewayRequestRejected):
    """The gateway refused our credentials."""


class GatewayNotFound(GatewayRequestRejected):
    """The object we named does not exist at the gateway."""


class GatewayOutcomeUnknown(GatewayError):
    """The request may or may not have taken effect at the gateway.

    Callers that created something must look up what the gateway already has (by the
    idempotency key we put in the metadata) before trying again.
    """


class GatewayTimeout(GatewayOutcomeUnknown):
    """No answer arrived within the configured timeout."""


class GatewayUnavailable(GatewayOutcomeUnknown):
    """The gateway answered 5xx or 429, or refused the connection."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class GatewayConnectionLost(GatewayOutcomeUnknown):
    """The connection broke before a complete answer arrived."""


class GatewayProtocolError(GatewayOutcomeUnknown):
    """The gateway's answer was malformed or did not have the shape we rely on."""


class WebhookError(GatewayError):
    """A webhook delivery we refuse; the HTTP layer answers 400."""


class WebhookSignatureError(WebhookError):
    """The Stripe-Signature header is missing, malformed, wrong, or too old."""


class WebhookPayloadError(WebhookError):
    """The body is correctly signed but is not an event we can read."""


class VNPayError(GatewayError):
    """A VNPay request could not be built or a VNPay answer could not be read."""
