"""Duplicate daily charges at the gateway: authorisations of a charge no attempt recorded.

A request held in the network past our timeout can reach the gateway after the retry made its
own payment. Daily charges are only authorised (manual capture) and only the authorisation an
attempt row records is captured, so a late duplicate moves no money; here it is cancelled
(voided), or refunded if it was captured anyway, and reported. Duplicates are found by our
charge key (`gateways.protocol.CHARGE_KEY_METADATA_KEY`), which every attempt of one
account-day's charge carries; settlement's reconciliation reads the same metadata.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from gateways.protocol import CHARGE_KEY_METADATA_KEY, Payment, PaymentStatus
from ticketing.money import Money
from ticketing.payment_flows.results import PaymentsContext

log = logging.getLogger(__name__)


class DuplicateAction(enum.StrEnum):
    VOIDED = "voided"  # an authorisation cancelled: no money moved
    REFUNDED = "refunded"  # captured anyway: refunded in full


@dataclass(frozen=True, slots=True)
class DuplicateCharge:
    """One extra payment of a charge key and what was done about it."""

    charge_key: str
    payment_id: str
    amount: Money
    action: DuplicateAction


async def void_unrecorded(
    ctx: PaymentsContext, charge_key: str, *, keep: str | None = None
) -> list[DuplicateCharge]:
    """Void (or refund) every payment of the charge key that no attempt recorded, except
    `keep` (the one the calling attempt is about to record). Lists the gateway's payments."""
    found = await ctx.gateway.find_charge_payments(charge_key)
    async with ctx.uows() as uow:
        rows = await uow.payments.charge_attempts(charge_key)
        recorded = {row.gateway_payment_id for row in rows if row.gateway_payment_id}
    if keep is not None:
        recorded.add(keep)
    return await _act(ctx, charge_key, (p for p in found if p.id not in recorded))


async def void_duplicate_charges(
    ctx: PaymentsContext,
    created_from: datetime,
    created_until: datetime | None,
    *,
    reported: Collection[str] = (),
) -> list[DuplicateCharge]:
    """Void (or refund) the duplicate daily charges among the gateway's payments created in
    the period: those carrying a charge key whose attempts are all settled (none still in
    progress) and that none of those attempts recorded, but the `reported` payment ids."""
    by_key: dict[str, list[Payment]] = {}
    for payment in await ctx.gateway.list_payments(created_from, created_until):
        key = payment.metadata.get(CHARGE_KEY_METADATA_KEY)
        if key is not None and payment.id not in reported:
            by_key.setdefault(key, []).append(payment)
    # The attempts of every charge in one read, not a transaction per payment listed.
    async with ctx.uows() as uow:
        attempts = await uow.payments.charge_attempts_of(by_key)
    duplicates: list[DuplicateCharge] = []
    for key, payments in sorted(by_key.items()):
        rows = attempts.get(key, [])
        settled = bool(rows) and all(row.status.is_final for row in rows)
        recorded = {row.gateway_payment_id for row in rows if row.gateway_payment_id}
        if not settled:
            continue  # not ours to judge yet: an attempt is still in progress
        duplicates += await _act(ctx, key, (p for p in payments if p.id not in recorded))
    return duplicates


async def _act(
    ctx: PaymentsContext, charge_key: str, extra: Iterable[Payment]
) -> list[DuplicateCharge]:
    done: list[DuplicateCharge] = []
    for payment in extra:
        amount = Money(payment.amount, payment.currency)
        if payment.status is PaymentStatus.REQUIRES_CAPTURE:
            await ctx.gateway.cancel_payment(payment.id, idempotency_key=f"void:{payment.id}")
            action = DuplicateAction.VOIDED
        elif payment.status is PaymentStatus.SUCCEEDED and payment.amount_refunded < payment.amount:
            await ctx.gateway.refund(
                payment.id,
                amount=payment.amount - payment.amount_refunded,
                idempotency_key=f"duplicate:{payment.id}",
                metadata={CHARGE_KEY_METADATA_KEY: charge_key},
            )
            action = DuplicateAction.REFUNDED
        else:
            continue  # failed, cancelled or already refunded: nothing at stake
        log.warning("duplicate charge %s of %s (%s): %s", payment.id, charge_key, amount, action)
        done.append(DuplicateCharge(charge_key, payment.id, amount, action))
    return done
