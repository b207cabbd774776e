"""After any sequence of gateway faults and retries, each account-day is charged exactly once."""

from __future__ import annotations

import secrets
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.errors import GatewayOutcomeUnknown
from gateways.stripe_gateway import StripeGateway
from simulators.fault_proxy import Fault, FaultProxy
from ticketing import postings
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import AttemptStatus
from ticketing.unit_of_work import UnitOfWorkFactory

DAY = date(2025, 3, 15)
AMOUNT = Money(23_000, "VND")

faults = st.lists(st.sampled_from([None, *Fault]), max_size=4)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(faults)
async def test_each_account_day_is_charged_exactly_once(
    proxied_payments: PaymentsService,
    proxied_gateway: StripeGateway,
    fault_proxy: FaultProxy,
    uow_factory: UnitOfWorkFactory,
    fault_run: list[Fault | None],
) -> None:
    payments, gateway = proxied_payments, proxied_gateway
    account = "acc-" + secrets.token_hex(6)
    await payments.save_card(account, "pm_card_visa")
    fault_proxy.clear()
    # Every gateway request, lookups included, may meet the next fault of the run.
    for fault in fault_run:
        fault_proxy.inject([fault] if fault else [], methods=["GET", "POST"])
    outcome = None
    for _ in range(len(fault_run) + 2):
        try:
            outcome = await payments.charge_day(account, DAY, AMOUNT)
            break
        except GatewayOutcomeUnknown:
            continue
    fault_proxy.clear()
    assert outcome is not None
    assert outcome.status is AttemptStatus.SUCCEEDED

    at_gateway = await gateway.find_payments(outcome.attempt_id)
    assert [(p.status.value, p.amount) for p in at_gateway] == [("succeeded", 23_000)]
    assert outcome.gateway_payment_id == at_gateway[0].id
    async with uow_factory() as uow:
        receivable = await uow.ledger.balance(accounts.receivable(account))
        posting = await uow.ledger.find_posting(postings.payment_posting_id(outcome.attempt_id))
        report = await uow.ledger.check_invariants()
    assert receivable == -AMOUNT  # credited once: no fare was posted in this test
    assert posting is not None
    assert report.ok, report
    # A later run (settlement re-run) does not charge again.
    assert await payments.charge_day(account, DAY, AMOUNT) == outcome
    assert len(await gateway.find_payments(outcome.attempt_id)) == 1
