"""What Faregate tells riders about their money, as messages: built here from plain values,
sent by the flows through an `Outbox` after the transaction that decided them has committed.

One message per fact, whatever the retries: each dedup key names the fact (a declined day, a
day paid, a posting that took the wallet low), so announcing it again sends nothing.

Riders have no phone number or e-mail address on record yet (registration comes with the
passenger app), so messages go to the account on the channel the caller picks (SMS by
default, as most riders here would expect); the adapter that really sends finds the address.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from ticketing.money import Money
from ticketing.outbox.messages import Channel, Message, Template

DEFAULT_CHANNEL = Channel.SMS
# A wallet that cannot pay the dearest single fare of the Hanoi feed (a bus route of 40 km or
# more, 20,000 VND; data/README.md) may be refused on its next ride: worth a warning.
DEFAULT_LOW_BALANCE = Money(20_000, "VND")


class PaidBy(StrEnum):
    CARD = "card"  # a retry of the daily charge succeeded
    WALLET = "wallet"  # a top-up left enough in the wallet to pay it


def charge_declined(
    account_id: str, day: date, amount: Money, *, at: datetime, channel: Channel = DEFAULT_CHANNEL
) -> Message:
    """A day's fares could not be charged to the card: once per account-day."""
    return Message(
        account_id=account_id,
        channel=channel,
        template=Template.CHARGE_DECLINED,
        parameters={"day": day.isoformat(), "amount": amount.amount, "currency": amount.currency},
        created_at=at,
        dedup_key=f"{Template.CHARGE_DECLINED}:{account_id}:{day.isoformat()}",
    )


def debt_recovered(
    account_id: str,
    day: date,
    amount: Money,
    paid_by: PaidBy,
    *,
    at: datetime,
    channel: Channel = DEFAULT_CHANNEL,
) -> Message:
    """A declined day has been paid: once per account-day."""
    return Message(
        account_id=account_id,
        channel=channel,
        template=Template.DEBT_RECOVERED,
        parameters={
            "day": day.isoformat(),
            "amount": amount.amount,
            "currency": amount.currency,
            "paid_by": paid_by.value,
        },
        created_at=at,
        dedup_key=f"{Template.DEBT_RECOVERED}:{account_id}:{day.isoformat()}",
    )


def low_balance(
    account_id: str,
    balance: Money,
    threshold: Money,
    *,
    because: str,
    at: datetime,
    channel: Channel = DEFAULT_CHANNEL,
) -> Message | None:
    """A warning that the wallet holds less than `threshold` after the posting `because` (a
    top-up that paid off debt, a fare), once per posting; None when it holds enough, or when
    it is in another currency than the threshold."""
    if balance.currency != threshold.currency or balance >= threshold:
        return None
    return Message(
        account_id=account_id,
        channel=channel,
        template=Template.LOW_BALANCE,
        parameters={
            "balance": balance.amount,
            "threshold": threshold.amount,
            "currency": threshold.currency,
        },
        created_at=at,
        dedup_key=f"{Template.LOW_BALANCE}:{account_id}:{because}",
    )
