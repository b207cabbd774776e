"""Column types round-trip honestly and the migration matches the models on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from faregate.database import upgrade
from ticketing.db.models import DenyListEntryRow, all_metadata
from ticketing.db.uow import UnitOfWorkFactory

HANOI = timezone(timedelta(hours=7))


async def test_aware_times_come_back_as_the_same_instant_in_utc(
    uow_factory: UnitOfWorkFactory,
) -> None:
    local = datetime(2025, 3, 1, 0, 30, 15, 123456, tzinfo=HANOI)
    async with uow_factory() as uow:
        uow.session.add(DenyListEntryRow(credential_id=1, reason="r", version=1, denied_at=local))
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.session.scalar(select(DenyListEntryRow.denied_at))
    assert stored == local
    assert stored is not None
    assert stored.tzinfo == UTC
    assert stored.hour == 17  # 00:30 in Hanoi is 17:30 UTC the day before


async def test_naive_times_are_refused(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        uow.session.add(
            DenyListEntryRow(credential_id=1, reason="r", version=1, denied_at=datetime(2025, 3, 1))
        )
        with pytest.raises(StatementError, match="naive"):
            await uow.session.flush()


async def test_unsigned_64_bit_ids_round_trip_and_are_found(uow_factory: UnitOfWorkFactory) -> None:
    ids = [0, 1, 2**63 - 1, 2**63, 2**64 - 1]
    async with uow_factory() as uow:
        for cid in ids:
            uow.session.add(
                DenyListEntryRow(
                    credential_id=cid, reason="r", version=1, denied_at=datetime.now(UTC)
                )
            )
        await uow.commit()
    async with uow_factory() as uow:
        assert sorted(await uow.session.scalars(select(DenyListEntryRow.credential_id))) == ids
        found = await uow.session.scalar(
            select(DenyListEntryRow.credential_id).where(
                DenyListEntryRow.credential_id == 2**64 - 1
            )
        )
        assert found == 2**64 - 1
        with pytest.raises(StatementError):
            await uow.session.scalar(
                select(DenyListEntryRow).where(DenyListEntryRow.credential_id == 2**64)
            )


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, all_metadata()))


async def test_migration_creates_exactly_the_models_and_reruns_cleanly(
    db_url: str, engine: AsyncEngine
) -> None:
    await upgrade(db_url)  # already at head: a no-op
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
