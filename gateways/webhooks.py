"""Stripe webhook signatures: verify `Stripe-Signature` on the raw body, parse the event, sign.

The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">[,v1=...]`; several v1
entries appear while a secret is being rotated, and any one matching is enough. We verify
ourselves instead of calling `stripe.WebhookSignature.verify_header` because that reads the
wall clock, and our clocks are injectable. A timestamp more than `tolerance` away from now, in
either direction, is refused. Replays inside the tolerance pass here: deduplicating by event id
is the payments layer's job.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateways.errors import WebhookPayloadError, WebhookSignatureError

SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE = timedelta(seconds=300)
_SCHEME = "v1"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified event. Treat it as a prompt to re-fetch `object_id`, never as the truth."""

    id: str
    type: str
    created: datetime
    object_type: str
    object_id: str
    data_object: Mapping[str, Any]


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_payload(payload: bytes, secret: str, *, at: datetime) -> str:
    """The `Stripe-Signature` header value a gateway would send for `payload` at time `at`."""
    timestamp = int(at.timestamp())
    return f"t={timestamp},{_SCHEME}={compute_signature(payload, secret, timestamp)}"


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookSignatureError("signature header has a malformed timestamp") from None
        elif key == _SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise WebhookSignatureError("signature header has no timestamp")
    if not signatures:
        raise WebhookSignatureError(f"signature header has no {_SCHEME} signature")
    return timestamp, signatures


def verify_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Raise WebhookSignatureError unless `header` signs `payload` with `secret` near `now`."""
    if not header:
        raise WebhookSignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp, signatures = _parse_header(header)
    expected = compute_signature(payload, secret, timestamp).encode("ascii")
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a "no").
    candidates = (c.encode("utf-8", "surrogateescape") for c in signatures)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise WebhookSignatureError("no signature matches the body and secret")
    # In seconds, not datetimes: a signed timestamp may lie outside the years datetime holds.
    age = now.timestamp() - timestamp
    if abs(age) > tolerance.total_seconds():
        raise WebhookSignatureError(
            f"signature timestamp is {age:.0f} s from now, "
            f"outside the {tolerance.total_seconds():.0f} s tolerance"
        )


def parse_event(payload: bytes) -> WebhookEvent:
    """Read an event body (already verified). Raises WebhookPayloadError."""
    try:
        body = json.loads(payload)
        data_object = body["data"]["object"]
        event = WebhookEvent(
            id=body["id"],
            type=body["type"],
            created=datetime.fromtimestamp(body["created"], tz=UTC),
            object_type=data_object["object"],
            object_id=data_object["id"],
            data_object=data_object,
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError) as error:
        # OverflowError, OSError: a `created` beyond the years datetime holds
        raise WebhookPayloadError(f"malformed event body: {error!r}") from error
    if not all(
        isinstance(v, str) and v for v in (event.id, event.type, event.object_type, event.object_id)
    ):
        raise WebhookPayloadError("event id, type or object is not a non-empty string")
    return event


def construct_event(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> WebhookEvent:
    """Verify the signature over the raw body, then parse it; any failure is a WebhookError."""
    verify_signature(payload, header, secret, now=now or datetime.now(UTC), tolerance=tolerance)
    return parse_event(payload)
