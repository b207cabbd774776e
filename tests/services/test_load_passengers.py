"""`load_passengers` and `fetch_credentials` on SQLite and PostgreSQL: the customer base
written in bulk stores the same rows as opening each account, adding its user and saving its
card one by one, its phones' first credentials fetched at once are those fetched one account
at a time, and a refused load or fetch stores nothing."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select

from qr.keys import KeyMaterial, init_keys
from ticketing.db.models import LedgerAccountRow, RiderAccountRow, table_of
from ticketing.db.payments_models import GatewayCustomerRow
from ticketing.db.users_models import ApiUserRow
from ticketing.errors import InvalidUser, PassOnAnotherPhone, UnknownRecord, UserExists
from ticketing.money import Money
from ticketing.riders import PassRecord, PaymentMode, RiderAccount
from ticketing.services import passengers
from ticketing.services.users import add_user
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import ApiUser, UserRole

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
# Columns the store's clock fills (the time of the test's run), not the load.
CLOCKED = {"created_at", "updated_at"}


def base(prefix: str) -> tuple[list[tuple[RiderAccount, str]], dict[str, passengers.GatewayCard]]:
    """Riders of every payment mode and a few categories, one with an overdraft limit, and
    cards for some of them; ids and usernames start with `prefix`."""
    accounts = [
        RiderAccount(f"{prefix}-{i}", category, mode, "VND", overdraft_limit=limit)
        for i, (category, mode, limit) in enumerate(
            [
                ("regular", PaymentMode.PREPAID_WALLET, 0),
                ("senior_60_plus", PaymentMode.PREPAID_WALLET, 20_000),
                ("regular", PaymentMode.POSTPAID_CARD, 0),
                ("child_under_6", PaymentMode.POSTPAID_CARD, 0),
            ]
        )
    ]
    cards = {
        a.id: passengers.GatewayCard(f"cus_{a.id}", f"pm_{a.id}", f"{i:04d}")
        for i, a in enumerate(accounts[1:])
    }
    return [(a, f"{a.id}@example.com") for a in accounts], cards


async def rows_of(uows: UnitOfWorkFactory, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of the riders of `prefix`, their ids written as `*`, clocked columns left out
    (the rider account's own times are the load's and stay)."""
    tables: list[tuple[Table, Any]] = [
        (table_of(RiderAccountRow), table_of(RiderAccountRow).c.id),
        (table_of(LedgerAccountRow), table_of(LedgerAccountRow).c.code),
        (table_of(ApiUserRow), table_of(ApiUserRow).c.username),
        (table_of(GatewayCustomerRow), table_of(GatewayCustomerRow).c.account_id),
    ]
    found: dict[str, list[dict[str, Any]]] = {}
    async with uows() as uow:
        for table, key in tables:
            rows = await uow.session.execute(
                select(table).where(key.contains(f"{prefix}-")).order_by(key)
            )
            found[table.name] = [
                {
                    name: value.replace(prefix, "*") if isinstance(value, str) else value
                    for name, value in row._mapping.items()
                    if table.name == "rider_accounts" or name not in CLOCKED
                }
                for row in rows
            ]
    return found


async def test_the_bulk_load_stores_what_one_by_one_stores(uow_factory: UnitOfWorkFactory) -> None:
    run = secrets.token_hex(4)
    bulk, single = f"bulk{run}", f"single{run}"
    loaded, cards = base(bulk)
    assert await passengers.load_passengers(uow_factory, loaded, "hash", at=AT, cards=cards) == 4

    one_by_one, their_cards = base(single)
    async with uow_factory() as uow:
        for account, username in one_by_one:
            await passengers.open_passenger_account(uow, account, AT)
            await add_user(uow, ApiUser(username, UserRole.PASSENGER, account.id), "hash")
        for account_id, card in their_cards.items():
            await uow.payments.add_customer(account_id)
            await uow.payments.set_customer(account_id, card.customer_id)
            await uow.payments.set_card(account_id, card.card_id, card.last4)
        await uow.commit()

    stored = await rows_of(uow_factory, bulk)
    assert [len(rows) for rows in stored.values()] == [4, 4, 4, 3]
    assert stored == await rows_of(uow_factory, single)


@pytest.mark.parametrize("clash", ["stored", "twice", "invalid"])
async def test_a_refused_load_stores_nothing(uow_factory: UnitOfWorkFactory, clash: str) -> None:
    """A username taken (by a stored user or earlier in the load) raises UserExists, a bad
    one InvalidUser, and none of the load's rows is stored."""
    run = f"refused{secrets.token_hex(4)}"
    loaded, cards = base(run)
    if clash == "stored":
        await passengers.load_passengers(uow_factory, loaded[:1], "hash", at=AT)
        loaded = [(passengers.passenger_account(f"{run}-new"), loaded[0][1]), *loaded[1:]]
    elif clash == "twice":
        loaded = [*loaded, (passengers.passenger_account(f"{run}-again"), loaded[1][1])]
    else:
        loaded = [*loaded, (passengers.passenger_account(f"{run}-bad"), "not a username")]
    before = await rows_of(uow_factory, run)
    error = InvalidUser if clash == "invalid" else UserExists
    with pytest.raises(error):
        await passengers.load_passengers(uow_factory, loaded, "hash", at=AT, cards=cards)
    assert await rows_of(uow_factory, run) == before


async def phones_of(
    uows: UnitOfWorkFactory, keys: KeyMaterial, prefix: str, *, bulk: bool
) -> list[tuple[str, str, dict[str, Any]]]:
    """The base of `prefix` loaded, the second rider given a pass covering the day, and its
    phones' first credentials fetched in one call (`bulk`) or one account at a time: each
    credential's account (as `*-i`), product and stored row (no id)."""
    loaded, _ = base(prefix)
    await passengers.load_passengers(uows, loaded, "hash", at=AT)
    async with uows() as uow:
        await uow.riders.record_pass(
            PassRecord(
                f"pass-{prefix}", f"{prefix}-1", "m2a_day", AT - timedelta(hours=1),
                AT + timedelta(hours=20), Money(40_000, "VND"), AT - timedelta(hours=1),
            )
        )  # fmt: skip
        await uow.commit()
    ids = [account.id for account, _ in loaded]
    if bulk:
        phones = await passengers.fetch_credentials(uows, keys, ids, at=AT)
    else:
        phones = {a: (await passengers.fetch_credential(uows, keys, a, at=AT)).phone for a in ids}
    async with uows() as uow:
        held = await uow.riders.credentials_of(ids)
    assert [len(held[a]) for a in ids] == [1, 1, 1, 1]
    assert all(held[a][0].credential_id == phones[a].credential.credential_id for a in ids)
    return [
        (
            a.replace(prefix, "*"),
            phones[a].credential.product,
            {**asdict(held[a][0]), "credential_id": None, "account_id": None},
        )
        for a in ids
    ]


async def test_the_bases_credentials_fetched_at_once_are_those_fetched_one_by_one(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    keys = init_keys(tmp_path, AT - timedelta(days=1))
    run = secrets.token_hex(4)
    at_once = await phones_of(uow_factory, keys, f"once{run}", bulk=True)
    assert [product for _, product, _ in at_once] == ["PAYG", "PASS", "PAYG", "PAYG"]
    assert at_once == await phones_of(uow_factory, keys, f"each{run}", bulk=False)


async def test_fetching_the_bases_credentials_refuses_a_repeated_or_unknown_account(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    keys = init_keys(tmp_path, AT - timedelta(days=1))
    loaded, _ = base(f"refetch{secrets.token_hex(4)}")
    await passengers.load_passengers(uow_factory, loaded, "hash", at=AT)
    ids = [account.id for account, _ in loaded]
    with pytest.raises(PassOnAnotherPhone):
        await passengers.fetch_credentials(uow_factory, keys, [*ids, ids[0]], at=AT)
    with pytest.raises(UnknownRecord):
        await passengers.fetch_credentials(uow_factory, keys, [*ids, "p-unknown"], at=AT)
    async with uow_factory() as uow:
        assert await uow.riders.credentials_of(ids) == {}
