"""The webhook endpoint over HTTP: a signed event is applied once; a bad one gets 400."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer
from faregate.app import PROBLEM_JSON, create_app

from gateways.webhooks import sign_payload
from ticketing.payments.service import PaymentsService

from .conftest import WEBHOOK_SECRET


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


async def test_signed_event_accepted_once_and_bad_ones_refused_with_400(
    payments: PaymentsService,
) -> None:
    async with TestClient(TestServer(create_app(payments))) as client:
        body = _event()
        header = sign_payload(body, WEBHOOK_SECRET, at=datetime.now(UTC))
        first = await client.post(
            "/webhooks/stripe", data=body, headers={"Stripe-Signature": header}
        )
        assert first.status == 200
        assert (await first.json())["duplicate"] is False
        again = await client.post(
            "/webhooks/stripe", data=body, headers={"Stripe-Signature": header}
        )
        assert (await again.json())["duplicate"] is True

        stale = sign_payload(body, WEBHOOK_SECRET, at=datetime.now(UTC) - timedelta(seconds=301))
        for payload, signature in (
            (body, sign_payload(body, "whsec_wrong", at=datetime.now(UTC))),
            (body.replace(b"customer", b"charge"), header),
            (body, stale),
            (body, None),
        ):
            headers = {"Stripe-Signature": signature} if signature else {}
            refused = await client.post("/webhooks/stripe", data=payload, headers=headers)
            assert refused.status == 400
            assert refused.content_type == PROBLEM_JSON
            assert (await refused.json())["status"] == 400
