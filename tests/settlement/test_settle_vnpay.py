"""VNPay top-ups are reconciled in settlement like card payments: each order the ledger opened
or settled in the period is checked against VNPay's transaction query (`querydr`, here the
stand-in's), and a difference of status or amount is an exception in suspense, posted against
VNPay's clearing account, resolved by a later run once both sides agree."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from gateways.vnpay_standin import VNPayStandIn
from tests.helpers.fake_gateway import FakeGateway
from tests.helpers.settlement import DAY, NEXT, ride
from tests.helpers.vnpay import pay_at_standin, serving_standin, standin, vnpay_config
from ticketing.audit import Actor
from ticketing.db.models import EntryRow
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.payment_flows.service import PaymentsService
from ticketing.postings import RECONCILIATION_SUSPENSE
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.services.vnpay_top_ups import settle_return, start_top_up
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
RIDER = "vnp-rider"


def tamper(stand_in: VNPayStandIn, txn_ref: str, **fields: str) -> None:
    """Change what the stand-in holds for the order (its request's or its result's fields)."""
    [transaction] = [
        t for t in stand_in.transactions.values() if t.request["vnp_TxnRef"] == txn_ref
    ]
    for name, value in fields.items():
        if name == "vnp_Amount":
            transaction.request[name] = value
        else:
            assert transaction.result is not None
            transaction.result[name] = value


async def test_vnpay_top_ups_are_reconciled_against_vnpays_transaction_query(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    gateway: FakeGateway,
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    since = now - timedelta(days=60)
    await register_riders(
        uow_factory,
        [
            Registration(
                RiderAccount(RIDER, "regular", PaymentMode.PREPAID_WALLET, "VND"),
                [CredentialRecord(900, RIDER, since, now + timedelta(days=365), since)],
            )
        ],
        at=since,
    )
    payments = PaymentsService(uow_factory, gateway)
    await payments.save_card(RIDER, "pm_card_visa")  # the ride, before any top-up, owes
    await ingest_and_price(uow_factory, feed, ride(1, RIDER, DAY, 7))
    stand_in = standin()
    with serving_standin(stand_in) as url:
        config = replace(vnpay_config(url), return_url="http://127.0.0.1/back")

        async def top_up(amount: int, outcome: str = "paid", *, returns: bool = True) -> str:
            started = await start_top_up(
                uow_factory, config, RIDER, amount, ip_addr="127.0.0.1", at=datetime.now(UTC)
            )
            result = await pay_at_standin(started.pay_url, outcome=outcome)
            if returns:  # the rider comes back; otherwise neither IPN nor return reached us
                await settle_return(uow_factory, config, RIDER, result, clock=uow_factory.clock)
            return started.order.txn_ref

        await top_up(100_000)  # matched
        lost = await top_up(50_000, returns=False)  # paid at VNPay, the ledger never heard
        await top_up(30_000, "cancelled")  # nobody paid: nothing to reconcile
        changed = await top_up(20_000)
        tamper(stand_in, changed, vnp_Amount=str(25_000 * 100))  # VNPay says 25,000
        reversed_ = await top_up(10_000)
        tamper(stand_in, reversed_, vnp_TransactionStatus="02")  # VNPay says it failed

        first = await settle(
            uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "1",
            gateway=gateway, payments=payments, vnpay=config,
        )  # fmt: skip
        summary = first.summary
        assert {k: n for k, n in summary.exceptions.items() if n} == {
            "unknown_at_gateway": 1,
            "amount_mismatch": 1,
            "missing_at_gateway": 1,
        }, summary
        assert summary.suspense.amount.amount == 50_000 + 5_000 - 10_000
        async with uow_factory() as uow:
            rows = await uow.session.execute(
                select(EntryRow.posting_id, EntryRow.account_code, EntryRow.amount).where(
                    EntryRow.posting_id.startswith(f"suspense:{DAY}:")
                )
            )
            entries = rows.all()
            suspense_keys = {key for (key,) in await uow.session.execute(
                select(EntryRow.posting_id).where(EntryRow.account_code == RECONCILIATION_SUSPENSE)
            )}  # fmt: skip
        # Each difference is posted against VNPay's clearing account, none against the card's.
        assert {code for _, code, _ in entries} == {
            RECONCILIATION_SUSPENSE,
            accounts.gateway_clearing("vnpay"),
        }
        assert {key.rsplit(":", 1)[-1] for key in suspense_keys} == {lost, changed, reversed_}

        # VNPay's late IPN reaches us: the next run finds both sides agree, and the lost
        # top-up leaves suspense.
        tamper(stand_in, changed, vnp_Amount=str(20_000 * 100))
        await ingest_and_price(uow_factory, feed, ride(3, RIDER, NEXT, 7))
        [transaction] = [
            t for t in stand_in.transactions.values() if t.request["vnp_TxnRef"] == lost
        ]
        assert transaction.result is not None
        await settle_return(uow_factory, config, RIDER, transaction.result, clock=uow_factory.clock)
        second = await settle(
            uow_factory, feed, NEXT, who=ADMIN, report_dir=tmp_path / "2",
            gateway=gateway, payments=payments, vnpay=config,
        )  # fmt: skip
    assert second.summary.suspense.amount.amount == -10_000, second.summary
    assert second.summary.suspense.open == 1
    assert second.summary.control_ok, second.summary
