"""The Stripe webhook endpoint on the server: a signed event is applied once; a bad one is 400."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

from faregate.api.problems import PROBLEM_JSON
from gateways.webhooks import sign_payload
from tests.helpers.api import WEBHOOK_SECRET, Client

JSON = {"Content-Type": "application/json"}


def _event() -> bytes:
    return json.dumps(
        {
            "id": "evt_" + secrets.token_hex(8),
            "object": "event",
            "type": "customer.created",
            "created": int(datetime.now(UTC).timestamp()),
            "data": {"object": {"id": "cus_x", "object": "customer"}},
        }
    ).encode()


async def test_signed_event_accepted_once_and_bad_ones_refused_with_400(client: Client) -> None:
    body = _event()
    header = sign_payload(body, WEBHOOK_SECRET, at=datetime.now(UTC))
    signed = {"Stripe-Signature": header, **JSON}
    first = await client.post("/webhooks/stripe", data=body, headers=signed)
    assert first.status == 200
    assert (await first.json())["duplicate"] is False
    again = await client.post("/webhooks/stripe", data=body, headers=signed)
    assert (await again.json())["duplicate"] is True

    stale = sign_payload(body, WEBHOOK_SECRET, at=datetime.now(UTC) - timedelta(seconds=301))
    for payload, signature in (
        (body, sign_payload(body, "whsec_wrong", at=datetime.now(UTC))),
        (body.replace(b"customer", b"charge"), header),
        (body, stale),
        (body, None),
    ):
        headers = {"Stripe-Signature": signature, **JSON} if signature else JSON
        refused = await client.post("/webhooks/stripe", data=payload, headers=headers)
        assert refused.status == 400
        assert refused.content_type == PROBLEM_JSON
        problem = await refused.json()
        assert problem["status"] == 400
        assert problem["type"] == "urn:faregate:problem:webhook-refused"
