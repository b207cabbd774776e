"""The aiohttp application factory: routes, typed app keys and problem+json errors.

So far it serves the payment gateway's webhooks; passenger, device, operator and finance APIs
join it as they are built. The services it uses are built by the caller (the CLI or a test)
and handed in, so the app itself holds no configuration.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateways.errors import WebhookError
from ticketing.payments.service import PaymentsService

PAYMENTS = web.AppKey("payments", PaymentsService)
PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str) -> web.Response:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    return web.json_response(body, status=status, content_type=PROBLEM_JSON)


async def stripe_webhook(request: web.Request) -> web.Response:
    """Verify the signature on the raw body, then let the payments service apply the event."""
    payload = await request.read()
    try:
        outcome = await request.app[PAYMENTS].handle_webhook(
            payload, request.headers.get("Stripe-Signature")
        )
    except WebhookError as exc:
        return problem(400, "Webhook refused", str(exc))
    return web.json_response({"event": outcome.event_id, "duplicate": outcome.duplicate})


def create_app(payments: PaymentsService) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[PAYMENTS] = payments
    app.router.add_post("/webhooks/stripe", stripe_webhook)
    return app
