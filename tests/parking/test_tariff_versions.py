"""Which tariff version prices a stay: the one in force at its entry (pure rules), and the
service that answers it from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from faregate.database import downgrade, upgrade
from parking.errors import LotExists, NoTariff, QuoteError, UnknownLot
from parking.services import tariff_for_entry
from parking.tariff_files import resolve_tariff
from parking.tariff_versions import TariffVersion, in_force, pricing_window, upcoming
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.parking import lot_config, open_lot
from ticketing.unit_of_work import create_engine

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
CAR = resolve_tariff("hanoi-car").read_text(encoding="utf-8")
BIKE = resolve_tariff("hanoi-motorbike").read_text(encoding="utf-8")


def version(number: int, effective_from: datetime | None, **changes: object) -> TariffVersion:
    values: dict[str, object] = {
        "lot_id": "lot",
        "version": number,
        "document": CAR if number % 2 else BIKE,
        "effective_from": effective_from,
        "created_at": T0,
        "created_by": "test",
    }
    values.update(changes)
    return TariffVersion(**values)  # type: ignore[arg-type]


def test_the_version_in_force_at_the_entry_prices_it() -> None:
    first = version(1, T0)
    second = version(2, T0 + timedelta(days=1))
    versions = [first, second]
    assert in_force(versions, T0) is first
    assert in_force(versions, T0 + timedelta(days=1) - timedelta(microseconds=1)) is first
    assert in_force(versions, T0 + timedelta(days=1)) is second  # from the instant on
    assert in_force(versions, T0 + timedelta(days=400)) is second
    # Before the lot's first version: that first version (there is no earlier one).
    assert in_force(versions, T0 - timedelta(days=30)) is first
    assert upcoming(versions, T0) == [second]
    assert upcoming(versions, T0 + timedelta(days=2)) == []


def test_drafts_and_cancelled_versions_never_price() -> None:
    first = version(1, T0)
    draft = version(2, None)
    cancelled = version(3, T0 + timedelta(hours=1), cancelled_at=T0, cancelled_by="op")
    versions = [first, draft, cancelled]
    assert in_force(versions, T0 + timedelta(days=1)) is first
    assert [v.status for v in versions] == ["scheduled", "draft", "cancelled"]
    with pytest.raises(NoTariff):
        in_force([draft, cancelled], T0)
    with pytest.raises(QuoteError, match="timezone-aware"):
        in_force([first], datetime(2026, 12, 1))


def test_a_later_version_for_the_same_instant_wins() -> None:
    first = version(1, T0)
    again = version(2, T0)
    assert in_force([again, first], T0) is again


def test_a_barrier_gets_what_prices_its_open_stays_and_what_comes_next() -> None:
    first = version(1, T0)
    second = version(2, T0 + timedelta(days=1))
    third = version(3, T0 + timedelta(days=2))
    versions = [first, second, third]
    # Open stays since day 0, 12:00: v1 priced them; v2 is in force now; v3 comes next.
    assert pricing_window(versions, T0 + timedelta(hours=4)) == [first, second, third]
    assert pricing_window(versions, T0 + timedelta(days=1, hours=1)) == [second, third]


@given(
    st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=6),
    st.integers(min_value=-1500, max_value=1500),
    st.integers(min_value=0, max_value=600),
)
def test_the_version_in_force_never_goes_back_in_time(
    offsets: list[int], at: int, later: int
) -> None:
    versions = [version(n, T0 + timedelta(hours=h)) for n, h in enumerate(offsets, 1)]
    now = in_force(versions, T0 + timedelta(hours=at))
    then = in_force(versions, T0 + timedelta(hours=at + later))
    assert (then.effective_from, then.version) >= (now.effective_from, now.version)


async def test_tariff_for_entry_reads_the_lots_versions(engine: AsyncEngine) -> None:
    clock = [T0]
    uows = ParkingUnitOfWorkFactory(engine, lambda: clock[0])
    await open_lot(uows, lot_config("street", capacity=10))
    with pytest.raises(LotExists):  # opened again: refused, still one version
        await open_lot(uows, lot_config("street", capacity=10))
    tomorrow = T0 + timedelta(days=1)
    async with uows() as uow:
        assert [v.version for v in await uow.parking.tariff_versions("street")] == [1]
        await uow.parking.add_tariff_version(
            "street", BIKE, created_by="test", effective_from=tomorrow
        )
        await uow.commit()
    async with uows() as uow:
        today = await tariff_for_entry(uow, "street", T0 + timedelta(hours=15))
        later = await tariff_for_entry(uow, "street", tomorrow)
        earlier = await tariff_for_entry(uow, "street", T0 - timedelta(days=3))
        with pytest.raises(UnknownLot):
            await tariff_for_entry(uow, "nowhere", T0)
    assert (today.version, today.tariff.id, today.effective_from) == (1, "hanoi-car", T0)
    assert (later.version, later.tariff.id) == (2, "hanoi-motorbike")
    assert earlier.version == 1
    assert later.digest != today.digest
    assert len(later.digest) == 16


async def test_lots_on_record_get_their_tariff_as_version_one(empty_db_url: str) -> None:
    """Revision 0010 gives each lot its shipped tariff as version 1 (a lot naming a tariff
    that is not shipped gets none: its operator schedules one)."""
    await upgrade(empty_db_url, "0009")
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as connection:
            for lot_id, tariff_name in (("street", "hanoi-car"), ("odd", "not-shipped")):
                await connection.execute(
                    text(
                        "INSERT INTO parking_lots (id, name, operator, capacity, reserved,"
                        " tariff_name, tariff_version, passback, hold_amount, currency,"
                        " updated_at) VALUES (:id, 'L', 'op', 10, 0, :tariff, 'v', 'hard', 0,"
                        " 'VND', :at)"
                    ),
                    {"id": lot_id, "tariff": tariff_name, "at": T0.replace(tzinfo=None)},
                )
        await upgrade(empty_db_url)
        uows = ParkingUnitOfWorkFactory(engine)
        async with uows() as uow:
            [first] = await uow.parking.tariff_versions("street")
            assert await uow.parking.tariff_versions("odd") == []
        assert (first.version, first.document, first.tariff.id) == (1, CAR, "hanoi-car")
        await downgrade(empty_db_url, "0009")
    finally:
        await engine.dispose()
