"""Payment gateway webhooks: the signed raw body goes to the payments service as it came."""

from __future__ import annotations

import msgspec

from faregate.api.context import PAYMENTS
from faregate.api.registry import Call, RouteRegistry
from gateways.webhooks import SIGNATURE_HEADER

routes = RouteRegistry()


class WebhookAck(msgspec.Struct, kw_only=True):
    event: str
    duplicate: bool


@routes.route(
    "POST", "/webhooks/stripe", summary="Stripe webhook events (Stripe-Signature checked)",
    tag="webhooks", raw_body="application/json", response=WebhookAck,
)  # fmt: skip
async def stripe_webhook(call: Call) -> WebhookAck:
    """Verify the signature on the raw body, then let the payments service apply the event."""
    outcome = await call.app[PAYMENTS].handle_webhook(
        call.raw_body, call.request.headers.get(SIGNATURE_HEADER)
    )
    return WebhookAck(event=outcome.event_id, duplicate=outcome.duplicate)
