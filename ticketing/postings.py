"""Every kind of posting Faregate makes, and its id, built in one place.

A posting id is chosen from domain ids so that a retry carries the same id and the ledger
records it once (see `ticketing.ledger.postings.Posting`). The kinds:

| kind           | id                                   | debit → credit                          |
|----------------|--------------------------------------|-----------------------------------------|
| fare           | `fare:{account}:{day}:v{version}`    | wallet and/or receivable → operators    |
| fare reversal  | `{fare id}:reversal`                 | mirror of the fare (a re-priced day)    |
| top-up         | `payment:{attempt}`                  | gateway clearing → wallet               |
| daily charge   | `payment:{attempt}`                  | gateway clearing → receivable           |
| refund         | `refund:{refund}`                    | mirror of the payment (full refund), or |
|                |                                      | wallet/receivable → clearing (partial)  |
| debt payment   | `debt-paid:{charge key}`             | wallet → receivable                     |
| pass sale      | `pass:{account}:{product}:{day}`     | wallet or receivable → unearned passes  |
| hold capture   | `{hold}:capture` (default)           | the hold's debit → its credit           |
| suspense move  | `suspense:{day}:{exception key}`     | gateway clearing → suspense (money the  |
|                |                                      | gateway holds that the ledger does not  |
|                |                                      | attribute), or the mirror (money the    |
|                |                                      | ledger counts the gateway lacks, or an  |
|                |                                      | exception resolved)                     |
| parking hold   | `parking-hold:{session}` (a hold)    | wallet → parking operator (reserved)    |
| parking fee    | `parking:{session}[:{part}]`         | wallet and/or receivable → operator     |
| parking permit | `parking-permit:{permit}`            | wallet or receivable → lot's operator   |
| carried balance| `carried:{account}:{day}`            | carried (collected on earlier days) →   |
|                |                                      | wallet (never gateway clearing)         |

Who pays a fare: a postpaid account's receivable; a prepaid account's wallet up to what it can
still pay (balance plus overdraft allowance), the rest its receivable, because the ride has
already happened and the operator must still be paid.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Protocol

from ticketing.fares.pricing import DayPrice
from ticketing.ledger import accounts
from ticketing.ledger.errors import InvalidPosting
from ticketing.ledger.postings import Entry, Posting
from ticketing.money import Money
from ticketing.riders import PaymentMode, RiderAccount

UNKNOWN_OPERATOR = "unknown"  # the operator credited for a leg whose route names no agency
PASS_REVENUE = accounts.unearned("passes")
RECONCILIATION_SUSPENSE = accounts.suspense("reconciliation")
# Money riders paid in before the ledger's first day, which the clearing house holds.
COLLECTED_EARLIER = accounts.carried("earlier-days")


class Payer(Protocol):
    """What deciding who pays needs to know of a rider (a `RiderAccount` has it)."""

    @property
    def id(self) -> str: ...

    @property
    def payment_mode(self) -> PaymentMode: ...

    @property
    def overdraft_limit(self) -> int: ...


def rider_ledger_account(account: RiderAccount) -> str:
    """The ledger account a rider's fares and purchases are posted against."""
    if account.payment_mode is PaymentMode.PREPAID_WALLET:
        return accounts.wallet(account.id)
    return accounts.receivable(account.id)


# --- fares ----------------------------------------------------------------------------------


def fare_posting_id(account_id: str, day: date, version: int) -> str:
    return f"fare:{account_id}:{day.isoformat()}:v{version}"


def fare_reversal_id(fare_id: str) -> str:
    return f"{fare_id}:reversal"


def fare_payers(rider: Payer, total: int, wallet_headroom: int) -> list[tuple[str, int]]:
    """The accounts debited for `total` of fares and how much each, in that order."""
    receivable = accounts.receivable(rider.id)
    if rider.payment_mode is PaymentMode.POSTPAID_CARD:
        return [(receivable, total)]
    from_wallet = min(total, wallet_headroom)
    return [(accounts.wallet(rider.id), from_wallet), (receivable, total - from_wallet)]


def fare(
    rider: Payer, day: date, version: int, price: DayPrice, wallet_headroom: int, at: datetime
) -> Posting:
    """A day's (non-zero) fares: payers debited, each leg's operator credited."""
    by_operator: dict[str, int] = defaultdict(int)
    for leg in price.legs:
        if leg.charged.amount:
            by_operator[leg.agency_id or UNKNOWN_OPERATOR] += leg.charged.amount
    currency = price.total.currency
    credits = [
        Entry.credit(accounts.operator(op), Money(amount, currency))
        for op, amount in sorted(by_operator.items())
    ]
    debits = [
        Entry.debit(code, Money(amount, currency))
        for code, amount in fare_payers(rider, price.total.amount, wallet_headroom)
        if amount
    ]
    return Posting(
        fare_posting_id(rider.id, day, version),
        (*debits, *credits),
        at,
        f"fares of {rider.id} on {day.isoformat()} (v{version})",
        {"account_id": rider.id, "service_day": day.isoformat(), "version": version},
    )


def fare_reversal(previous: Posting, at: datetime) -> Posting:
    """The reversal of a day's earlier fare posting, when the day is priced again."""
    return previous.reversal(fare_reversal_id(previous.id), occurred_at=at)


# --- passes ---------------------------------------------------------------------------------


def pass_sale_id(account_id: str, product_id: str, first_day: date) -> str:
    """A pass's sale, once per pass: its account, product and first service day."""
    return f"pass:{account_id}:{product_id}:{first_day.isoformat()}"


def pass_sale(
    account: RiderAccount, product_id: str, first_day: date, price: Money, at: datetime
) -> Posting:
    """A pass bought: paid from the wallet (or owed, for a postpaid rider) into unearned pass
    revenue, which settlement later apportions to operators."""
    return Posting.transfer(
        pass_sale_id(account.id, product_id, first_day),
        debit=rider_ledger_account(account),
        credit=PASS_REVENUE,
        amount=price,
        occurred_at=at,
        description=f"{product_id} bought by {account.id}",
    )


# --- balances carried from earlier days -------------------------------------------------


def carried_balance_id(account_id: str, day: date) -> str:
    """A wallet's balance carried into the ledger as of `day`, once per account and day."""
    return f"carried:{account_id}:{day.isoformat()}"


def carried_balance(account_id: str, day: date, amount: Money, at: datetime) -> Posting:
    """A prepaid wallet's balance of earlier days brought into the ledger (a customer base
    loaded in bulk): the money was collected then, by the gateway or an earlier system, so
    it comes from `COLLECTED_EARLIER`, not from a gateway's clearing account, which holds
    only what a gateway collected since and is reconciled against it."""
    return Posting.transfer(
        carried_balance_id(account_id, day),
        debit=COLLECTED_EARLIER,
        credit=accounts.wallet(account_id),
        amount=amount,
        occurred_at=at,
        description=f"balance of {account_id} carried from before {day.isoformat()}",
        metadata={"account_id": account_id, "as_of": day.isoformat()},
    )


# --- payments -------------------------------------------------------------------------------


def payment_posting_id(attempt_id: str) -> str:
    return f"payment:{attempt_id}"


def payment_received(
    attempt_id: str,
    *,
    clearing: str,
    paid_account: str,
    account_id: str,
    amount: Money,
    gateway_payment_id: str,
    purpose: str,
    at: datetime,
) -> Posting:
    """A top-up (credits the wallet) or a daily charge (credits the receivable) the gateway
    collected into its clearing account."""
    return Posting.transfer(
        payment_posting_id(attempt_id),
        debit=clearing,
        credit=paid_account,
        amount=amount,
        occurred_at=at,
        description=f"{purpose} {gateway_payment_id}",
        metadata={"gateway_payment_id": gateway_payment_id, "account": account_id},
    )


def trip_refund(
    case_id: str, account: RiderAccount, operator_id: str, amount: Money, at: datetime
) -> Posting:
    """A trip case finance refunded: the trip's operator gives back what it was credited, to
    the rider's wallet (prepaid) or off what they owe (postpaid)."""
    return Posting.transfer(
        f"trip-refund:{case_id}",
        debit=accounts.operator(operator_id),
        credit=rider_ledger_account(account),
        amount=amount,
        occurred_at=at,
        description=f"refund of trip case {case_id}",
        metadata={"account_id": account.id, "case_id": case_id},
    )


def refund_posting_id(refund_id: str) -> str:
    return f"refund:{refund_id}"


def full_refund(payment: Posting, refund_id: str, gateway_refund_id: str, at: datetime) -> Posting:
    """A whole payment refunded: the reversal of its posting."""
    return payment.reversal(
        refund_posting_id(refund_id), occurred_at=at, description=f"refund {gateway_refund_id}"
    )


def partial_refund(
    payment_posting: str,
    refund_id: str,
    *,
    clearing: str,
    paid_account: str,
    amount: Money,
    gateway_refund_id: str,
    at: datetime,
) -> Posting:
    """Part of a payment refunded: the paid account debited, gateway clearing credited."""
    return Posting.transfer(
        refund_posting_id(refund_id),
        debit=paid_account,
        credit=clearing,
        amount=amount,
        occurred_at=at,
        description=f"partial refund {gateway_refund_id} of {payment_posting}",
        metadata={"refund_of": payment_posting, "gateway_refund_id": gateway_refund_id},
    )


def debt_payment_id(charge_key: str) -> str:
    return f"debt-paid:{charge_key}"


def debt_payment(account_id: str, charge_key: str, amount: Money, at: datetime) -> Posting:
    """A declined daily charge paid from the wallet (after a top-up)."""
    return Posting.transfer(
        debt_payment_id(charge_key),
        debit=accounts.wallet(account_id),
        credit=accounts.receivable(account_id),
        amount=amount,
        occurred_at=at,
        description=f"declined {charge_key} paid from the wallet",
    )


# --- holds ----------------------------------------------------------------------------------


def hold_capture_id(hold_id: str) -> str:
    """The default id of a hold's capture posting (`ticketing.ledger.holds.Hold.capture` builds
    the posting: the hold's debit and credit, for the amount captured)."""
    return f"{hold_id}:capture"


# --- settlement suspense --------------------------------------------------------------------


def suspense_move_id(day: date, exception_key: str) -> str:
    return f"suspense:{day.isoformat()}:{exception_key}"


def suspense_move(
    day: date,
    exception_key: str,
    *,
    clearing: str,
    amount: Money,
    at: datetime,
    reason: str,
) -> Posting:
    """The change in one reconciliation exception's suspense made by the settlement run of
    `day` (`amount` signed as `ReconLine.suspense`: positive, the gateway holds money the
    ledger has not attributed: clearing debited, suspense credited; negative, the mirror).
    An exception opened moves its whole suspense in; one resolved moves it all out."""
    if amount.amount == 0:
        raise InvalidPosting(f"suspense move of {exception_key!r} on {day} is zero")
    size = Money(abs(amount.amount), amount.currency)
    debit, credit = (
        (clearing, RECONCILIATION_SUSPENSE)
        if amount.amount > 0
        else (RECONCILIATION_SUSPENSE, clearing)
    )
    return Posting.transfer(
        suspense_move_id(day, exception_key),
        debit=debit,
        credit=credit,
        amount=size,
        occurred_at=at,
        description=f"suspense {reason}: {exception_key} (settlement of {day.isoformat()})",
        metadata={"service_day": day.isoformat(), "exception": exception_key, "reason": reason},
    )


# --- parking --------------------------------------------------------------------------------


def parking_hold_id(session_id: str) -> str:
    """The hold a prepaid wallet gets at a parking entry (captured at the exit)."""
    return f"parking-hold:{session_id}"


def parking_fee_id(session_id: str, part: str | None = None) -> str:
    """A parking fee posting: the whole fee, or a `part` of it (`rest` beyond the hold,
    `debt` when it could not be collected)."""
    return f"parking:{session_id}" if part is None else f"parking:{session_id}:{part}"


def parking_fee(
    posting_id: str,
    *,
    operator_id: str,
    payers: list[tuple[str, int]],
    currency: str,
    session_id: str,
    lot_id: str,
    at: datetime,
) -> Posting:
    """A parking fee (or part of one): the payers debited, the parking operator's payable
    credited. Payers as `fare_payers` decides them (or the receivable alone for a debt)."""
    debits = [Entry.debit(code, Money(amount, currency)) for code, amount in payers if amount]
    total = sum(amount for _, amount in payers)
    return Posting(
        posting_id,
        (*debits, Entry.credit(accounts.operator(operator_id), Money(total, currency))),
        at,
        f"parking at {lot_id} ({session_id})",
        {"parking_session": session_id, "lot": lot_id, "operator": operator_id},
    )


def parking_permit_id(permit_id: str) -> str:
    """A month's parking permit bought from an account."""
    return f"parking-permit:{permit_id}"


def parking_permit_sale(
    account: RiderAccount,
    permit_id: str,
    *,
    operator_id: str,
    lot_id: str,
    price: Money,
    at: datetime,
) -> Posting:
    """A permit bought: paid from the wallet (or owed, for a postpaid rider) to the lot
    operator's payable, which settlement apportions to that operator on the day of sale."""
    return Posting.transfer(
        parking_permit_id(permit_id),
        debit=rider_ledger_account(account),
        credit=accounts.operator(operator_id),
        amount=price,
        occurred_at=at,
        description=f"parking permit {permit_id} at {lot_id}",
    )
