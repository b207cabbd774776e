"""Gateway webhooks: verified, deduplicated by event id, applied from the gateway's current
state (an event body may be stale or arrive out of order)."""

from __future__ import annotations

from datetime import datetime

from gateways.errors import CardDeclined
from gateways.protocol import PaymentStatus
from gateways.webhooks import WebhookEvent, construct_event
from ticketing.payment_flows.attempts import capture_recorded, record
from ticketing.payment_flows.results import PaymentOutcome, PaymentsContext, WebhookOutcome
from ticketing.payments.errors import NoWebhookSecret
from ticketing.payments.model import PaymentPurpose


async def handle_webhook(
    ctx: PaymentsContext, payload: bytes, signature: str | None, *, now: datetime | None = None
) -> WebhookOutcome:
    """Verify (WebhookError → answer 400), deduplicate by event id, re-fetch, apply."""
    if ctx.webhook_secret is None:
        raise NoWebhookSecret("the payments service was built without a webhook secret")
    event = construct_event(payload, signature, ctx.webhook_secret, now=now or ctx.now())
    async with ctx.uows() as uow:
        fresh = await uow.payments.add_webhook_event(event.id, event.type, event.object_id)
        await uow.commit()
    if not fresh:
        return WebhookOutcome(event.id, duplicate=True, payment=None)
    try:
        payment = await _on_event(ctx, event)
    except BaseException:
        # Forget the event so the gateway's redelivery is processed, not skipped.
        async with ctx.uows() as uow:
            await uow.payments.forget_webhook_event(event.id)
            await uow.commit()
        raise
    return WebhookOutcome(event.id, duplicate=False, payment=payment)


async def _on_event(ctx: PaymentsContext, event: WebhookEvent) -> PaymentOutcome | None:
    if event.object_type != "payment_intent":
        return None
    payment = await ctx.gateway.retrieve_payment(event.object_id)
    async with ctx.uows() as uow:
        attempt_id = await uow.payments.attempt_for_payment(payment.id, payment.idempotency_key)
        attempt = None if attempt_id is None else await uow.payments.attempt(attempt_id)
        capture = (
            attempt is not None
            and attempt.purpose is PaymentPurpose.DAILY_CHARGE
            and not attempt.status.is_final
        )
    if attempt_id is None:
        return None  # not ours (or made before we stored it: reconciliation reports it)
    if capture:  # an authorised daily charge whose answer we lost: capture the recorded one
        payment = await capture_recorded(ctx, attempt_id, payment)
    if payment.status is PaymentStatus.FAILED:
        declined = CardDeclined(
            payment.failure_message or "declined",
            code=payment.decline_code or "card_declined",
            payment_id=payment.id,
        )
        return await record(ctx, attempt_id, payment, declined)
    return await record(ctx, attempt_id, payment, None)
