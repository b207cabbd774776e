"""Settlement against a private localstripe with discrepancies injected between the charge and
reconcile stages: each is reported in its category with the right amount, the controls still
hold (suspense accounts for the difference), and a later run resolves what got fixed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from faregate.gateway_runtime import PrivateStripeConfig
from gateways.protocol import CHARGE_KEY_METADATA_KEY, PaymentRequest, PaymentStatus
from gateways.stripe_gateway import StripeGateway
from tests.helpers.settlement import DAY, NEXT, ride
from ticketing.audit import Actor
from ticketing.db.models import EntryRow
from ticketing.db.payments_models import PaymentAttemptRow
from ticketing.db.settlement_models import SettlementExceptionRow
from ticketing.fares.feed import FareFeed
from ticketing.payment_flows.service import PaymentsService
from ticketing.postings import RECONCILIATION_SUSPENSE
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
ACCOUNTS = ("ann", "ben", "cat")


class Stop(Exception):
    pass


async def ledger_suspense(uows: UnitOfWorkFactory) -> dict[str, int]:
    """The reconciliation suspense account's postings (id: credit less debit), and the ledger
    checked: every invariant `faregate ledger check` runs holds."""
    async with uows() as uow:
        assert (await uow.ledger.check_invariants()).ok
        rows = await uow.session.execute(
            select(EntryRow.posting_id, EntryRow.amount).where(
                EntryRow.account_code == RECONCILIATION_SUSPENSE
            )
        )
        return {posting: -amount for posting, amount in rows}


def stop_after(stage: str):  # type: ignore[no-untyped-def]
    def hook(name: str) -> None:
        if name == stage:
            raise Stop(name)

    return hook


async def test_each_injected_discrepancy_is_reported_in_its_category(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    localstripe_gateway: StripeGateway,
    tmp_path: Path,
) -> None:
    """End to end on localstripe (the other settlement tests charge through the in-memory
    gateway)."""
    gateway = localstripe_gateway
    payments = PaymentsService(uow_factory, gateway)
    now = datetime.now(UTC)
    registrations = [
        Registration(
            RiderAccount(a, "regular", PaymentMode.POSTPAID_CARD, "VND"),
            [CredentialRecord(100 + n, a, now, now + timedelta(days=365), now)],
        )
        for n, a in enumerate(ACCOUNTS)
    ]
    await register_riders(uow_factory, registrations, at=now)
    for account in ACCOUNTS:
        await payments.save_card(account, "pm_card_visa")
    taps = [t for n, a in enumerate(ACCOUNTS) for t in ride(1, a, DAY, 7 + n)]
    await ingest_and_price(uow_factory, feed, taps)

    with pytest.raises(Stop):
        await settle(
            uow_factory,
            feed,
            DAY,
            who=ADMIN,
            report_dir=tmp_path / "r",
            gateway=gateway,
            payments=payments,
            after_stage=stop_after("charged"),
        )
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(
                    PaymentAttemptRow.account_id,
                    PaymentAttemptRow.gateway_payment_id,
                    PaymentAttemptRow.amount,
                    PaymentAttemptRow.charge_key,
                )
            )
        ).all()
        card = await uow.payments.saved_card("ann")
    charges = {r.account_id: r for r in rows}
    assert set(charges) == set(ACCOUNTS)
    assert card is not None
    fare = charges["ann"].amount

    # 1. a payment the ledger does not know
    await gateway.create_payment(
        PaymentRequest(card.customer_id, card.payment_method_id, 5_000, "VND", "stray-1")
    )
    # 2. a duplicate of ann's daily charge (a retry that raced the first request)
    await gateway.create_payment(
        PaymentRequest(
            card.customer_id,
            card.payment_method_id,
            fare,
            "VND",
            "race-1",
            metadata={CHARGE_KEY_METADATA_KEY: str(charges["ann"].charge_key)},
        )
    )
    # 3. ben's charge recorded with a changed amount
    async with uow_factory() as uow:
        await uow.session.execute(
            update(PaymentAttemptRow)
            .where(PaymentAttemptRow.account_id == "ben")
            .values(amount=PaymentAttemptRow.amount + 1_000)
        )
        # 4. a payment the ledger counts that the gateway never collected
        await uow.session.execute(
            text(
                "INSERT INTO payment_attempts (id, purpose, account_id, amount, currency, status,"
                " gateway_calls, gateway_payment_id, created_at, updated_at) VALUES"
                " ('ghost-1', 'top_up', 'cat', 7000, 'VND', 'succeeded', 1, 'pi_ghost',"
                " :now, :now)"
            ),
            {
                "now": datetime.now(UTC).replace(tzinfo=None)
                if uow.session.bind.dialect.name == "sqlite"
                else datetime.now(UTC)
            },  # type: ignore[union-attr]
        )
        await uow.commit()
    # 5. a refund made at the gateway (a dashboard refund) the ledger never recorded
    await gateway.refund(
        str(charges["cat"].gateway_payment_id), amount=2_000, idempotency_key="dash-1"
    )

    outcome = await settle(
        uow_factory,
        feed,
        DAY,
        who=ADMIN,
        report_dir=tmp_path / "r",
        gateway=gateway,
        payments=payments,
    )
    summary = outcome.summary
    assert summary.exceptions == {
        "amount_mismatch": 1,
        "duplicate": 1,
        "missing_at_gateway": 1,
        "refund": 1,
        "unknown_at_gateway": 1,
    }
    async with uow_factory() as uow:
        found = {
            r.kind: (r.amount, r.suspense)
            for r in (await uow.session.execute(select(SettlementExceptionRow))).scalars()
        }
    assert found == {
        "unknown_at_gateway": (5_000, 5_000),
        "duplicate": (fare, fare),
        "amount_mismatch": (1_000, -1_000),
        "missing_at_gateway": (7_000, -7_000),
        "refund": (2_000, -2_000),
    }
    assert summary.suspense.amount.amount == 5_000 + fare - 1_000 - 7_000 - 2_000
    # The money holds (suspense explains every difference); the charges control names ben,
    # whose day's charge is recorded at other than his day's fares.
    async with uow_factory() as uow:
        record = await uow.settlement.day(DAY)
    assert record is not None
    assert record.figures is not None
    controls = record.figures["controls"]
    assert (controls["difference"], controls["trial_balance"]) == (0, 0)
    assert controls["suspense"] == controls["suspense_exceptions"]
    assert controls["charges_mismatched"] == ["ben"]
    assert not summary.control_ok
    # Each exception's suspense is posted to the ledger's suspense account, one posting each.
    posted = await ledger_suspense(uow_factory)
    assert sorted(posted.values()) == sorted([5_000, fare, -1_000, -7_000, -2_000])
    assert all(p.startswith(f"suspense:{DAY}:") for p in posted)
    assert sum(posted.values()) == summary.suspense.amount.amount
    assert summary.suspense.moved == summary.suspense.amount.amount

    again = await settle(
        uow_factory,
        feed,
        DAY,
        who=ADMIN,
        report_dir=tmp_path / "r2",
        gateway=gateway,
        payments=payments,
    )
    assert again.summary.digest == summary.digest
    assert await ledger_suspense(uow_factory) == posted  # nothing posted twice
    # ben's record is corrected: the next run matches it again and it leaves suspense then;
    # the rest stays open with its first day.
    async with uow_factory() as uow:
        await uow.session.execute(
            update(PaymentAttemptRow)
            .where(PaymentAttemptRow.account_id == "ben")
            .values(amount=PaymentAttemptRow.amount - 1_000)
        )
        await uow.commit()
    nxt = await settle(
        uow_factory,
        feed,
        NEXT,
        who=ADMIN,
        report_dir=tmp_path / "n",
        gateway=gateway,
        payments=payments,
    )
    assert nxt.summary.suspense.open == 4
    assert nxt.summary.suspense.moved == 1_000
    assert nxt.summary.suspense.amount.amount == summary.suspense.amount.amount + 1_000
    assert nxt.summary.control_ok, nxt.summary
    # The resolved mismatch leaves the ledger's suspense account in the run that resolves it.
    after = await ledger_suspense(uow_factory)
    moved = {p: a for p, a in after.items() if p not in posted}
    assert list(moved.values()) == [1_000]
    assert next(iter(moved)).startswith(f"suspense:{NEXT}:payment:")
    assert sum(after.values()) == nxt.summary.suspense.amount.amount
    async with uow_factory() as uow:
        resolved = {
            r.kind: r.resolved_on
            for r in (await uow.session.execute(select(SettlementExceptionRow))).scalars()
        }
    assert resolved["amount_mismatch"] == NEXT
    assert [k for k, on in resolved.items() if on is None] == sorted(
        ["unknown_at_gateway", "duplicate", "missing_at_gateway", "refund"],
        key=list(resolved).index,
    )


async def test_settle_beside_a_running_server_charges_through_the_servers_gateway(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, db_url: str, tmp_path: Path
) -> None:
    """`faregate settle` while `faregate serve` runs on the same data directory uses the
    server's private localstripe: the day's charge is one the server's gateway holds. (A second
    localstripe on the same state kept its own copy: the server never saw the charge, and the
    two overwrote each other's file.)"""
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FAREGATE_GATEWAY"))}
    async with PrivateStripeConfig().open(data_dir) as server:  # as `faregate serve` holds it
        payments = PaymentsService(uow_factory, server.gateway)
        now = datetime.now(UTC)
        account = RiderAccount("ann", "regular", PaymentMode.POSTPAID_CARD, "VND")
        await register_riders(uow_factory, [Registration(account)], at=now)
        await payments.save_card("ann", "pm_card_visa")
        await ingest_and_price(uow_factory, feed, ride(1, "ann", DAY, 7))
        command = [sys.executable, "-m", "faregate", "settle", DAY.isoformat(), "--json"]
        command += ["--data-dir", str(data_dir), "--database-url", db_url]
        done = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["charges"] == 1
        (attempt,) = await payments.attempts("ann")
        assert attempt.gateway_payment_id is not None
        charged = await server.gateway.retrieve_payment(attempt.gateway_payment_id)
        assert charged.status is PaymentStatus.SUCCEEDED
        # settle stopped nothing of the server's: its gateway still answers.
        assert await server.gateway.find_customer("ann") is not None
