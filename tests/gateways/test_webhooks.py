"""Webhook signatures: valid events accepted; wrong secret, altered body, stale time refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.errors import WebhookError, WebhookPayloadError, WebhookSignatureError
from gateways.webhooks import compute_signature, construct_event, sign_payload

SECRET = "whsec_test_faregate"
NOW = datetime(2025, 3, 14, 3, 0, tzinfo=UTC)
EVENT = {
    "id": "evt_123",
    "object": "event",
    "type": "payment_intent.succeeded",
    "created": int(NOW.timestamp()),
    "data": {"object": {"id": "pi_abc", "object": "payment_intent", "amount": 25000}},
}
BODY = json.dumps(EVENT, indent=2).encode()


def test_valid_signature_is_accepted_and_event_parsed() -> None:
    event = construct_event(BODY, sign_payload(BODY, SECRET, at=NOW), SECRET, now=NOW)
    assert (event.id, event.type, event.object_type, event.object_id) == (
        "evt_123",
        "payment_intent.succeeded",
        "payment_intent",
        "pi_abc",
    )
    assert event.created == NOW


def test_signature_within_tolerance_is_accepted() -> None:
    header = sign_payload(BODY, SECRET, at=NOW - timedelta(seconds=299))
    assert construct_event(BODY, header, SECRET, now=NOW).id == "evt_123"


def test_any_of_several_signatures_may_match_during_secret_rotation() -> None:
    old = sign_payload(BODY, "whsec_old", at=NOW)
    new = sign_payload(BODY, SECRET, at=NOW)
    header = old + "," + new.split(",", 1)[1]
    assert construct_event(BODY, header, SECRET, now=NOW).id == "evt_123"


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        construct_event(BODY, sign_payload(BODY, "whsec_other", at=NOW), SECRET, now=NOW)


def test_altered_body_is_refused() -> None:
    header = sign_payload(BODY, SECRET, at=NOW)
    altered = BODY.replace(b"25000", b"99000")
    with pytest.raises(WebhookSignatureError):
        construct_event(altered, header, SECRET, now=NOW)


@pytest.mark.parametrize(
    "skew", [timedelta(seconds=301), timedelta(seconds=-301), timedelta(days=2)]
)
def test_stale_or_future_timestamp_is_refused(skew: timedelta) -> None:
    header = sign_payload(BODY, SECRET, at=NOW - skew)
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        construct_event(BODY, header, SECRET, now=NOW)


@pytest.mark.parametrize(
    "header", [None, "", "garbage", "t=abc,v1=00", "v1=deadbeef", f"t={int(NOW.timestamp())}"]
)
def test_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(WebhookSignatureError):
        construct_event(BODY, header, SECRET, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        f"t={int(NOW.timestamp())},v1=\u00e9\u00e9",  # was a TypeError from compare_digest
        f"t={int(NOW.timestamp())},v1=\udcff",  # an undecodable header byte, as aiohttp has it
    ],
)
def test_a_non_ascii_signature_is_refused(header: str) -> None:
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        construct_event(BODY, header, SECRET, now=NOW)


@pytest.mark.parametrize("timestamp", [10**12, -(10**12), 10**30])
def test_a_signed_timestamp_beyond_any_date_is_refused(timestamp: int) -> None:
    """A correctly signed header whose timestamp datetime cannot hold (was OverflowError)."""
    signature = compute_signature(BODY, SECRET, timestamp)
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        construct_event(BODY, f"t={timestamp},v1={signature}", SECRET, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"id": "evt_1", "type": "x", "created": 1, "data": {}}',
        b"[1]",
        b'{"id": "e", "type": "x", "created": 1e300, "data": {"object": {"id": "o", '
        b'"object": "o"}}}',
    ],
)
def test_signed_but_malformed_body_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        construct_event(body, sign_payload(body, SECRET, at=NOW), SECRET, now=NOW)


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=len(BODY) - 1))
def test_flipping_any_byte_breaks_the_signature(extra: bytes, position: int) -> None:
    header = sign_payload(BODY, SECRET, at=NOW)
    flipped = bytearray(BODY)
    flipped[position] ^= 0x01
    for body in (bytes(flipped), BODY + extra if extra else bytes(flipped)):
        with pytest.raises(WebhookError):
            construct_event(body, header, SECRET, now=NOW)
