"""API users and bearer tokens below HTTP: hashing, sign-in, lookup, revocation, expiry."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.helpers.api import TEST_COST
from ticketing.db.users_models import ApiTokenRow, ApiUserRow
from ticketing.errors import BadCredentials, InvalidUser, UserExists
from ticketing.services.users import (
    create_user,
    hash_password,
    revoke_all_tokens,
    revoke_token,
    sign_in,
    user_for_token,
    verify_password,
)
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import ApiUser, UserRole

PASSWORD = "correct horse battery"


async def test_password_hash_is_scrypt_salted_and_verifies() -> None:
    first = await hash_password(PASSWORD, TEST_COST)
    second = await hash_password(PASSWORD, TEST_COST)
    assert first.startswith("scrypt$256$8$1$")
    assert first != second  # salted
    assert PASSWORD not in first
    assert await verify_password(PASSWORD, first)
    assert not await verify_password(PASSWORD + "!", first)
    assert not await verify_password(PASSWORD, "scrypt$bad")
    assert not await verify_password(PASSWORD, "bcrypt$1$2$3$4$5")


async def test_sign_in_stores_only_the_token_hash(uow_factory: UnitOfWorkFactory) -> None:
    user = await create_user(uow_factory, "ops", PASSWORD, UserRole.OPERATOR, cost=TEST_COST)
    assert user == ApiUser("ops", UserRole.OPERATOR, None)
    session = await sign_in(uow_factory, "ops", PASSWORD)
    assert session.user == user
    async with uow_factory() as uow:
        hashes = list(await uow.session.scalars(select(ApiTokenRow.token_hash)))
        stored = await uow.session.scalar(select(ApiUserRow.password_hash))
    assert hashes == [hashlib.sha256(session.token.encode()).hexdigest()]
    assert stored is not None
    assert PASSWORD not in stored
    assert await user_for_token(uow_factory, session.token) == user
    assert await user_for_token(uow_factory, hashes[0]) is None  # the hash is no token


async def test_wrong_password_and_unknown_user_are_the_same_error(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await create_user(uow_factory, "fin", PASSWORD, UserRole.FINANCE, cost=TEST_COST)
    with pytest.raises(BadCredentials) as wrong:
        await sign_in(uow_factory, "fin", "not the password")
    with pytest.raises(BadCredentials) as unknown:
        await sign_in(uow_factory, "nobody", PASSWORD)
    assert str(wrong.value) == str(unknown.value)


async def test_revoked_and_expired_tokens_stop_working(uow_factory: UnitOfWorkFactory) -> None:
    await create_user(uow_factory, "ops", PASSWORD, UserRole.OPERATOR, cost=TEST_COST)
    one = await sign_in(uow_factory, "ops", PASSWORD)
    two = await sign_in(uow_factory, "ops", PASSWORD)
    assert await revoke_token(uow_factory, one.token)
    assert not await revoke_token(uow_factory, one.token)
    assert await user_for_token(uow_factory, one.token) is None
    assert await user_for_token(uow_factory, two.token) is not None
    expired = await sign_in(uow_factory, "ops", PASSWORD, ttl=timedelta(seconds=-1))
    assert await user_for_token(uow_factory, expired.token) is None
    assert await revoke_all_tokens(uow_factory, "ops") == 2  # two, and the expired one
    assert await user_for_token(uow_factory, two.token) is None


async def test_users_are_validated_and_unique(uow_factory: UnitOfWorkFactory) -> None:
    await create_user(
        uow_factory, "rider", PASSWORD, UserRole.PASSENGER, account_id="acct-1", cost=TEST_COST
    )
    with pytest.raises(UserExists, match="exists"):
        await create_user(uow_factory, "rider", PASSWORD, UserRole.OPERATOR, cost=TEST_COST)
    with pytest.raises(UserExists, match="already has a user"):
        await create_user(
            uow_factory, "rider2", PASSWORD, UserRole.PASSENGER, account_id="acct-1", cost=TEST_COST
        )
    with pytest.raises(InvalidUser, match="rider account"):
        await create_user(uow_factory, "p", PASSWORD, UserRole.PASSENGER, cost=TEST_COST)
    with pytest.raises(InvalidUser, match="rider account"):
        await create_user(
            uow_factory, "o", PASSWORD, UserRole.OPERATOR, account_id="acct-2", cost=TEST_COST
        )
    with pytest.raises(InvalidUser, match="username"):
        await create_user(uow_factory, "has space", PASSWORD, UserRole.FINANCE, cost=TEST_COST)
    with pytest.raises(InvalidUser, match="password"):
        await create_user(uow_factory, "short", "short", UserRole.FINANCE, cost=TEST_COST)


async def test_token_lookup_uses_the_unit_of_work_clock(uow_factory: UnitOfWorkFactory) -> None:
    await create_user(uow_factory, "ops", PASSWORD, UserRole.OPERATOR, cost=TEST_COST)
    session = await sign_in(uow_factory, "ops", PASSWORD, ttl=timedelta(hours=1))
    later = UnitOfWorkFactory(uow_factory.engine, lambda: datetime.now(UTC) + timedelta(hours=2))
    assert await user_for_token(uow_factory, session.token) is not None
    assert await user_for_token(later, session.token) is None
