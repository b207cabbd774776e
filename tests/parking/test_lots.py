"""Lots and tariffs as an operator runs them (`parking.lots`), on SQLite and PostgreSQL: a lot
is created with its first tariff, changed, given new tariff versions that are checked,
previewed, scheduled and cancelled; every change is in the audit log; a tariff scheduled for
tomorrow prices tomorrow's entries, not today's; barriers are told the version in force and
the next one before it applies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from parking.errors import (
    LotError,
    LotExists,
    QuoteError,
    TariffError,
    TariffErrors,
    TariffScheduleError,
    UnknownLot,
    UnknownTariffVersion,
)
from parking.lots import (
    LotChanges,
    Stay,
    add_lot,
    cancel_tariff,
    edit_lot,
    lot_tariffs,
    lots_overview,
    preview_tariff,
    schedule_tariff,
    upload_tariff,
)
from parking.records import LotKind
from parking.services import barrier_configuration, tariff_for_entry
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.parking import TESTS, lot_config, open_lot, shipped
from ticketing.audit import AuditAction, AuditQuery, TargetKind
from ticketing.services.audit import read_audit

HANOI_NOON = datetime(2026, 12, 1, 5, tzinfo=UTC)  # 12:00 in Hanoi
DEARER = shipped("hanoi-car").replace("amount = 25000", "amount = 30000")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(HANOI_NOON)


@pytest.fixture
def uows(engine: AsyncEngine, clock: Clock) -> ParkingUnitOfWorkFactory:
    return ParkingUnitOfWorkFactory(engine, clock)


async def audit(uows: ParkingUnitOfWorkFactory, kind: TargetKind) -> list[tuple[str, object]]:
    page = await read_audit(uows, AuditQuery(target_kind=kind))
    return [(e.target.id, e.after) for e in reversed(page.entries)]


async def test_a_lot_is_created_with_its_first_tariff_and_audited(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    lot = lot_config(
        "street", kind=LotKind.ON_STREET, latitude=Decimal("21.0288900"),
        longitude=Decimal("105.8525000"), address="Lê Thái Tổ", permit_price=3_000_000,
    )  # fmt: skip
    await add_lot(uows, lot, shipped("hanoi-car"), by=TESTS)
    [overview] = await lots_overview(uows)
    assert overview.lot == lot
    assert (overview.tariff.version, overview.tariff.tariff.id) == (1, "hanoi-car")
    assert overview.tariff.effective_from == HANOI_NOON
    assert (overview.open_sessions, overview.upcoming) == (0, ())
    [(target, after)] = await audit(uows, TargetKind.LOT)
    assert target == "street"
    assert isinstance(after, dict)
    assert after["capacity"] == 40
    assert after["tariff"]["tariff_id"] == "hanoi-car"
    with pytest.raises(LotExists, match="lot 'street' exists"):
        await add_lot(uows, lot, shipped("hanoi-car"), by=TESTS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lot_id": "a b"}, "lot_id: must be 1-100 letters"),
        ({"lot_id": ""}, "lot_id: must be"),
        ({"name": " "}, "name: must be 1-100 printable"),
        ({"name": "x" * 101}, "name: must be 1-100 printable"),
        ({"operator": "nobody"}, "operator: no operator 'nobody' in the registry"),
        ({"capacity": 0}, "capacity: must be 1 to"),
        ({"reserved": 41}, "reserved: must be 0 to the capacity (40)"),
        ({"reserved": -1}, "reserved: must be 0 to the capacity"),
        ({"hold_amount": -1}, "hold: must be 0 to"),
        ({"permit_price": -1}, "permit_price: must be 0 to"),
        ({"currency": "GBP"}, "currency: the tariff charges VND, not GBP"),
        ({"latitude": Decimal(21)}, "latitude: give both latitude and longitude"),
        ({"latitude": Decimal(91), "longitude": Decimal(0)}, "latitude: must be a number"),
        ({"latitude": Decimal(0), "longitude": Decimal(-181)}, "longitude: must be a number"),
        ({"latitude": Decimal("NaN"), "longitude": Decimal(0)}, "latitude: must be a number"),
        ({"address": "line\nbreak"}, "address: must be 1-200 printable"),
    ],
)
async def test_a_lot_that_cannot_work_is_refused_naming_its_field(
    uows: ParkingUnitOfWorkFactory, changes: dict[str, object], message: str
) -> None:
    lot = replace(lot_config("lot"), **changes)
    with pytest.raises(LotError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await add_lot(uows, lot, shipped("hanoi-car"), by=TESTS)
    assert await lots_overview(uows) == []


async def test_a_bad_tariff_lists_each_field_and_reason(uows: ParkingUnitOfWorkFactory) -> None:
    bad = shipped("hanoi-car").replace('currency = "VND"', 'currency = "vnd"')
    bad = bad.replace('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Mars/Base"')
    with pytest.raises(TariffErrors) as caught:
        await add_lot(uows, lot_config("lot"), bad, by=TESTS, source="mine.toml")
    assert [(e.field, e.file) for e in caught.value.errors] == [
        ("currency", "mine.toml"),
        ("timezone", "mine.toml"),
    ]
    assert "unknown IANA time zone 'Mars/Base'" in str(caught.value)
    with pytest.raises(TariffError, match="not TOML"):
        await add_lot(uows, lot_config("lot"), "rates = [", by=TESTS)
    with pytest.raises(LotError, match="at most 65,536 characters"):
        await add_lot(uows, lot_config("lot"), "#" * 70_000, by=TESTS)


async def test_a_lot_is_changed_and_audited_before_and_after(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    await open_lot(uows, lot_config("mall", operator="vincom-parking", capacity=300))
    changed = await edit_lot(
        uows, "mall", LotChanges(capacity=320, reserved=12, kind="car-park", passback="soft"),
        by=TESTS, reason="a new deck",
    )  # fmt: skip
    assert (changed.capacity, changed.reserved, changed.passback) == (320, 12, "soft")
    page = await read_audit(uows, AuditQuery(action=AuditAction.LOT_CHANGED))
    latest = page.entries[0]
    assert latest.before is not None
    assert latest.after is not None
    assert (latest.before["capacity"], latest.after["capacity"]) == (300, 320)
    assert latest.reason == "a new deck"
    for changes, message in (
        (LotChanges(), "nothing to change"),
        (LotChanges(reserved=400), "reserved: must be 0 to the capacity"),
        (LotChanges(kind="moon"), "kind: must be one of on-street"),
        (LotChanges(operator="nobody"), "operator: no operator 'nobody'"),
    ):
        with pytest.raises(LotError, match=message):
            await edit_lot(uows, "mall", changes, by=TESTS)
    with pytest.raises(UnknownLot):
        await edit_lot(uows, "nowhere", LotChanges(capacity=3), by=TESTS)


async def test_a_tariff_scheduled_for_tomorrow_prices_tomorrows_entries_not_todays(
    uows: ParkingUnitOfWorkFactory, clock: Clock
) -> None:
    await open_lot(uows, lot_config("street"))
    draft = await upload_tariff(uows, "street", DEARER, by=TESTS)
    assert (draft.version, draft.status) == (2, "draft")
    tomorrow = HANOI_NOON + timedelta(hours=12)  # midnight in Hanoi
    scheduled = await schedule_tariff(uows, "street", 2, tomorrow, by=TESTS)
    assert (scheduled.status, scheduled.effective_from) == ("scheduled", tomorrow)

    async with uows() as uow:
        today = await tariff_for_entry(uow, "street", tomorrow - timedelta(minutes=1))
        after = await tariff_for_entry(uow, "street", tomorrow)
        config = await barrier_configuration(uow, "street", HANOI_NOON)
    assert (today.version, after.version) == (1, 2)
    two_hours = timedelta(hours=2)
    evening = tomorrow - timedelta(hours=5)  # 19:00 today: the night window
    morning = tomorrow + timedelta(hours=8)  # 08:00 tomorrow, a day turn: 25,000 -> 30,000
    assert today.tariff.quote("car", morning, morning + two_hours).amount == 25_000
    assert after.tariff.quote("car", morning, morning + two_hours).amount == 30_000
    # A stay across the change is priced whole by the version of its entry.
    across = today.tariff.quote("car", evening, morning + two_hours).amount
    assert (
        config.tariff_for_entry(evening).tariff.quote("car", evening, morning + two_hours).amount
        == across
    )
    # The barrier is told both: the version in force and the next, before it applies.
    assert (config.in_force.version, config.next and config.next.version) == (1, 2)
    assert [t.version for t in config.tariffs] == [1, 2]
    assert config.tariff_for_entry(morning).version == 2
    # Once tomorrow comes, version 1 is history: a barrier with no open stay gets version 2.
    clock.at = tomorrow + timedelta(hours=1)
    async with uows() as uow:
        later = await barrier_configuration(uow, "street", clock.at)
    assert ([t.version for t in later.tariffs], later.next) == ([2], None)
    listed = await lot_tariffs(uows, "street")
    assert (listed.in_force.version, [v.version for v in listed.versions]) == (2, [2, 1])
    events = await audit(uows, TargetKind.TARIFF)
    assert [(target, after["status"]) for target, after in events] == [  # type: ignore[index]
        ("street:v2", "draft"),
        ("street:v2", "scheduled"),
    ]


async def test_the_round_trip_of_the_barrier_document(uows: ParkingUnitOfWorkFactory) -> None:
    from parking.barrier_config import BarrierConfiguration

    await open_lot(uows, lot_config("street", reserved=3))
    await upload_tariff(uows, "street", DEARER, by=TESTS)
    await schedule_tariff(uows, "street", 2, HANOI_NOON + timedelta(days=1), by=TESTS)
    async with uows() as uow:
        config = await barrier_configuration(uow, "street", HANOI_NOON)
    document = config.as_json()
    assert (document["tariff_in_force"], document["tariff_next"]) == (1, 2)
    assert document["lot"]["reserved"] == 3
    again = BarrierConfiguration.from_json(document)
    assert again.tariffs == config.tariffs
    assert again.lot.capacity == config.lot.capacity


async def test_what_cannot_be_scheduled_or_cancelled(
    uows: ParkingUnitOfWorkFactory, clock: Clock
) -> None:
    await open_lot(uows, lot_config("street"))
    await upload_tariff(uows, "street", DEARER, by=TESTS)
    with pytest.raises(TariffScheduleError, match="is in the past"):
        await schedule_tariff(uows, "street", 2, HANOI_NOON - timedelta(seconds=1), by=TESTS)
    with pytest.raises(TariffScheduleError, match="needs its time zone"):
        await schedule_tariff(uows, "street", 2, datetime(2027, 1, 1), by=TESTS)
    with pytest.raises(TariffScheduleError, match="came into force"):
        await cancel_tariff(uows, "street", 1, by=TESTS, reason="oops")
    with pytest.raises(UnknownTariffVersion):
        await schedule_tariff(uows, "street", 9, None, by=TESTS)
    with pytest.raises(LotError, match="say why"):
        await cancel_tariff(uows, "street", 2, by=TESTS, reason=" ")
    cancelled = await cancel_tariff(uows, "street", 2, by=TESTS, reason="wrong prices")
    assert cancelled.status == "cancelled"
    with pytest.raises(TariffScheduleError, match="was cancelled"):
        await schedule_tariff(uows, "street", 2, None, by=TESTS)
    # Scheduled for now: in force at once, and then it cannot be cancelled.
    await upload_tariff(uows, "street", DEARER, by=TESTS)
    now = await schedule_tariff(uows, "street", 3, None, by=TESTS)
    assert now.effective_from == HANOI_NOON
    with pytest.raises(TariffScheduleError, match="has priced stays"):
        await cancel_tariff(uows, "street", 3, by=TESTS, reason="too late")
    gbp = shipped("uk-dtro")
    with pytest.raises(LotError, match="lot street charges VND; this tariff GBP"):
        await upload_tariff(uows, "street", gbp, by=TESTS)
    with pytest.raises(UnknownLot):
        await upload_tariff(uows, "nowhere", DEARER, by=TESTS)


async def test_a_preview_quotes_typical_stays_beside_the_tariff_in_force(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    await open_lot(uows, lot_config("street"))
    await upload_tariff(uows, "street", DEARER, by=TESTS)
    preview = await preview_tariff(uows, "street", 2)
    rows = {(row.stay.vehicle, row.stay.label): row for row in preview.rows}
    two = rows[("car", "2 h")]
    assert (two.amount, two.current) == (30_000, 25_000)
    assert rows[("car", "Overnight 19:00-07:00")].current == 150_000 + 25_000
    assert preview.current.version == 1
    assert preview.currency == "VND"
    entry = HANOI_NOON + timedelta(days=2)
    [mine] = (
        await preview_tariff(
            uows, "street", 2, [Stay(vehicle="car", entry=entry, exit=entry + timedelta(hours=3))]
        )
    ).rows
    assert mine.amount == 30_000 + 35_000
    with pytest.raises(QuoteError, match="exit before entry"):
        await preview_tariff(uows, "street", 2, [Stay(vehicle="car", entry=entry, exit=HANOI_NOON)])
    with pytest.raises(UnknownTariffVersion):
        await preview_tariff(uows, "street", 7)
