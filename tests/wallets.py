"""Test setup: prepaid riders with money in their wallets, as the payments flow leaves them."""

from __future__ import annotations

from datetime import UTC, datetime

from ticketing import postings
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.unit_of_work import UnitOfWork


async def top_up(uow: UnitOfWork, account: str, amount: int, *, at: datetime | None = None) -> None:
    """A wallet top-up as the payments flow posts it once the gateway has the money (now,
    unless `at`)."""
    await uow.ledger.post(
        postings.payment_received(
            f"topup:{account}",
            clearing=accounts.gateway_clearing("stripe"),
            paid_account=accounts.wallet(account),
            account_id=account,
            amount=Money(amount, "VND"),
            gateway_payment_id=f"pi_{account}",
            purpose="top_up",
            at=datetime.now(UTC) if at is None else at,
        )
    )


async def open_funded_wallets(uow: UnitOfWork, names: list[str], amount: int = 200_000) -> None:
    """Regular prepaid riders `names`, each with `amount` VND topped up (not committed)."""
    for account in names:
        await uow.riders.open_account(
            RiderAccount(account, "regular", PaymentMode.PREPAID_WALLET, "VND")
        )
        await top_up(uow, account, amount)
