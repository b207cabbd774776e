"""Column types round-trip honestly and the migration matches the models on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Connection, column, insert, select, table, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from faregate.database import alembic_config, downgrade, upgrade
from ticketing.db.engine import create_engine
from ticketing.db.models import (
    DenyListEntryRow,
    PricedDayRow,
    PricedLegRow,
    all_metadata,
    table_of,
)
from ticketing.db.settlement_models import SettlementDayRow, SettlementExceptionRow
from ticketing.unit_of_work import UnitOfWorkFactory

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
    empty_db_url: str,
) -> None:
    # Migrated here, not copied from the tests' template: this is the migrations' own test.
    await upgrade(empty_db_url)
    await upgrade(empty_db_url)  # already at head: a no-op
    engine = create_engine(empty_db_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_a_test_database_is_the_migrated_schema(engine: AsyncEngine) -> None:
    """The template copy every test gets holds exactly what the migrations made."""
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def test_priced_leg_details_move_into_columns_and_back(empty_db_url: str) -> None:
    """Revision 0003 keeps what a leg's JSON `details` said; its downgrade puts it back."""
    await upgrade(empty_db_url, "0002")
    at = datetime(2025, 3, 12, 1, 0, tzinfo=UTC)
    details = {
        "journey_id": "gate-a:7",
        "network_id": "metro",
        "incomplete": True,
        "pass_covered": False,
        "capped": True,
        "joined": False,
        "pass_product_id": None,
        "transfer_product_id": "xfer",
    }
    kept = [c for c in table_of(PricedLegRow).c if c.name != "id" and c.name not in details]
    legs = table("priced_legs", *(column(c.name, c.type) for c in kept), column("details", JSON))
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(table_of(PricedDayRow)),
                {
                    "account_id": "acct-1",
                    "service_day": at.date(),
                    "version": 1,
                    "body_hash": "h",
                    "total_amount": 15_000,
                    "currency": "VND",
                    "tap_count": 1,
                    "priced_at": at,
                },
            )
            await connection.execute(
                insert(legs),
                {
                    "account_id": "acct-1",
                    "service_day": at.date(),
                    "version": 1,
                    "leg_index": 0,
                    "journey_index": 0,
                    "operator_id": "hanoi-metro",
                    "route_id": "m2a",
                    "from_stop_id": "s1",
                    "to_stop_id": None,
                    "started_at": at,
                    "ended_at": None,
                    "fare_product_id": None,
                    "amount": 15_000,
                    "undiscounted_amount": 15_000,
                    "currency": "VND",
                    "details": details,
                },
            )
        await upgrade(empty_db_url)
        async with engine.connect() as connection:
            leg_columns = table_of(PricedLegRow).c
            moved = (await connection.execute(select(*(leg_columns[n] for n in details)))).one()
        assert dict(zip(details, moved, strict=True)) == details

        await downgrade(empty_db_url, "0002")
        async with engine.connect() as connection:
            restored = await connection.scalar(select(legs.c.details))
        assert restored == details
    finally:
        await engine.dispose()


async def test_the_reconcile_stages_record_moves_onto_the_days_row_and_back(
    empty_db_url: str,
) -> None:
    """Revision 0014 moves the reconcile stage's `_run` pseudo-exception onto the day's row
    (`reconciliation`); its downgrade puts it back."""
    await upgrade(empty_db_url, "0013")
    at = datetime(2025, 3, 13, 1, 0, tzinfo=UTC)
    figures = {"counts": {"refund": 1}, "cash_difference": -5, "fees": 0, "resolved": [],
               "previous": [], "suspense_moved": 5}  # fmt: skip
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO settlement_days (day, state, stage, closed_by, closed_at,"
                    " tap_watermark, posting_watermark, updated_at) VALUES"
                    " (:day, 'closed', 'reconciled', 'fin', :at, 0, 0, :at)"
                ),
                {"day": at.date(), "at": at},
            )
            await connection.execute(
                insert(table_of(SettlementExceptionRow)),
                {
                    "key": f"reconcile:{at.date()}", "kind": "_run", "currency": "VND",
                    "amount": 0, "suspense": 0, "record_day": at.date(),
                    "first_seen": at.date(), "resolved_on": at.date(), "detail": figures,
                },
            )  # fmt: skip
        await upgrade(empty_db_url)
        async with engine.connect() as connection:
            moved = await connection.scalar(select(table_of(SettlementDayRow).c.reconciliation))
            left = await connection.scalar(text("SELECT count(*) FROM settlement_exceptions"))
        assert (moved, left) == (figures, 0)

        await downgrade(empty_db_url, "0013")
        async with engine.connect() as connection:
            kind, detail = (
                await connection.execute(text("SELECT kind, detail FROM settlement_exceptions"))
            ).one()
        restored = detail if isinstance(detail, dict) else json.loads(detail)
        assert (kind, restored) == ("_run", figures)
    finally:
        await engine.dispose()
