"""The posting of a wallet's balance carried from earlier days (`ticketing.postings`): from the
account of money collected before the ledger's first day, never from a gateway's clearing
account, with an id from the account and the day (a repeat is the same posting)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ticketing.ledger import AccountKind, AccountType, InvalidPosting, accounts, parse_code
from ticketing.money import Money
from ticketing.postings import COLLECTED_EARLIER, carried_balance, carried_balance_id

AT = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)


def test_a_carried_balance_credits_the_wallet_from_money_collected_earlier() -> None:
    posting = carried_balance("r00042", DAY, Money(120_000, "VND"), AT)
    assert posting.id == "carried:r00042:2026-11-23" == carried_balance_id("r00042", DAY)
    assert {(e.account, e.amount.amount) for e in posting.entries} == {
        ("carried:earlier-days", 120_000),
        ("wallet:r00042", -120_000),
    }
    assert COLLECTED_EARLIER == "carried:earlier-days"
    assert not any(parse_code(e.account).kind is AccountKind.GATEWAY_CLEARING
                   for e in posting.entries)  # fmt: skip
    # Money the clearing house holds (an asset), as the gateway's clearing account is.
    assert AccountKind.CARRIED.account_type is AccountType.ASSET
    assert parse_code(accounts.carried("earlier-days")).kind is AccountKind.CARRIED
    # The same balance carried again is the same posting (the ledger records it once).
    again = carried_balance("r00042", DAY, Money(120_000, "VND"), AT)
    assert (again.id, again.body_hash) == (posting.id, posting.body_hash)
    other_day = carried_balance("r00042", date(2026, 11, 24), Money(120_000, "VND"), AT)
    assert other_day.id != posting.id


def test_a_carried_balance_must_be_positive() -> None:
    for amount in (0, -5_000):
        with pytest.raises(InvalidPosting):
            carried_balance("r00042", DAY, Money(amount, "VND"), AT)
