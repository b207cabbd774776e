"""Debt recovery: declined daily charges an account still owes, and what they do to it.

A declined daily charge leaves the receivable owed: the account goes into debt recovery (the
riders store), and past its debt limit its live credentials are denied on the shared deny list
(reason `debt:{account}`). A successful retry, or a top-up large enough to pay a failed day
from the wallet, clears it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ticketing.ledger.errors import InsufficientFunds
from ticketing.payment_flows.results import PaymentsContext, Standing
from ticketing.payments.model import PaymentAttempt, Recovered, advance
from ticketing.postings import debt_payment
from ticketing.unit_of_work import UnitOfWork


def debt_reason(account_id: str) -> str:
    """The deny-list reason of an account's credentials denied for unpaid debt."""
    return f"debt:{account_id}"


async def owed_charges(uow: UnitOfWork, account_id: str) -> list[PaymentAttempt]:
    """The first failed attempt of each declined day not paid since, oldest first."""
    return _first_of_each_charge(await uow.payments.failed_charges(account_id))


def _first_of_each_charge(failed: Iterable[PaymentAttempt]) -> list[PaymentAttempt]:
    by_charge: dict[str, PaymentAttempt] = {}
    for row in failed:
        if row.charge_key is not None:  # always set on a daily charge
            by_charge.setdefault(row.charge_key, row)
    return list(by_charge.values())


async def standing_in(ctx: PaymentsContext, uow: UnitOfWork, account_id: str) -> Standing:
    return (await standings_in(ctx, uow, [account_id]))[account_id]


async def standings_in(
    ctx: PaymentsContext, uow: UnitOfWork, account_ids: Collection[str]
) -> dict[str, Standing]:
    """The standing of each account, read for all of them at once."""
    failed = await uow.payments.failed_charges_of(account_ids)
    limits = await uow.riders.debt_limits(account_ids)
    standings: dict[str, Standing] = {}
    for account in account_ids:
        debt = sum(r.amount.amount for r in _first_of_each_charge(failed.get(account, [])))
        limit = limits.get(account, ctx.default_debt_limit)
        standings[account] = Standing(account, debt, limit, denied=debt > limit)
    return standings


async def refresh_standing(ctx: PaymentsContext, uow: UnitOfWork, account_id: str) -> None:
    """Deny or allow the account's credentials and set its status from what it owes now."""
    await refresh_standings(ctx, uow, [account_id])


async def refresh_standings(
    ctx: PaymentsContext, uow: UnitOfWork, account_ids: Collection[str]
) -> None:
    """`refresh_standing` of many accounts, each read and write done for all of them at once
    (a batch of daily charges: most riders owe nothing and have nothing denied)."""
    standings = await standings_in(ctx, uow, account_ids)
    now = ctx.now()
    allowed = []
    for account, standing in standings.items():
        if standing.denied:
            await uow.deny_list.deny_account(account, debt_reason(account), at=now)
        else:
            allowed.append(account)
    for account, credentials in (await uow.deny_list.denied_credentials(allowed)).items():
        await uow.deny_list.allow_many(credentials, debt_reason(account), at=now)
    for in_debt in (True, False):
        await uow.riders.set_debt_standings(
            [a for a, s in standings.items() if (s.debt > 0) is in_debt], in_debt, at=now
        )


async def pay_debt_from_wallet(
    ctx: PaymentsContext, uow: UnitOfWork, account_id: str, currency: str
) -> list[PaymentAttempt]:
    """Pay declined days from the wallet, oldest first, while it has the money; the failed
    attempts of the days it paid."""
    paid: list[PaymentAttempt] = []
    for owed in await owed_charges(uow, account_id):
        if owed.amount.currency != currency or owed.charge_key is None:
            continue
        try:
            await uow.ledger.post(debt_payment(account_id, owed.charge_key, owed.amount, ctx.now()))
        except InsufficientFunds:
            break
        await recover_charge(uow, owed.charge_key)
        paid.append(owed)
    return paid


async def recover_charge(uow: UnitOfWork, charge_key: str) -> None:
    """The declined attempts of a daily charge are paid now (by a retry or from the wallet)."""
    for attempt in await uow.payments.declined_attempts(charge_key):
        recovered = advance(attempt, Recovered())
        if recovered != attempt:
            await uow.payments.save_attempt(recovered)


async def standing(ctx: PaymentsContext, account_id: str) -> Standing:
    async with ctx.uows() as uow:
        return await standing_in(ctx, uow, account_id)
